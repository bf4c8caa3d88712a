"""What kind of failure an exception is, decided once for every face.

The API views, the Django-level error pages, the upload's record in the history and the
management command all ask `failure_of(exc)` and say what it answers:

- a `DealsError` is already classified (the input's fault, a refused request, ...);
- the database cannot be reached (refused, lost, timed out, shutting down, not accepting
  connections now): `DatabaseUnavailable`, 503 — retrying later may work;
- anything else: `InternalError`, 500, with a short random id that the log line written here
  (with the traceback) carries too.

Errors the input causes inside PostgreSQL (bad values, CHECK constraints, limits) are turned
into `line N: ...` where COPY reports them (`deals.services`); met anywhere else they are a
defect of our validation, so they are internal errors here, never an outage.
"""

import logging
import secrets

import psycopg2
from django import db

from deals.errors import DatabaseUnavailable, DealsError, InternalError

logger = logging.getLogger(__name__)

# SQLSTATE class 08: connection exceptions. And codes that mean the server will not take work
# now: admin_shutdown, crash_shutdown, cannot_connect_now, too_many_connections.
_UNREACHABLE_CLASS = "08"
_UNREACHABLE_CODES = frozenset({"57P01", "57P02", "57P03", "53300"})
# Data exceptions, integrity violations, program limits exceeded: what a value can cause.
_INPUT_CLASSES = frozenset({"22", "23", "54"})
_CONNECTION_ERRORS = (
    psycopg2.OperationalError,
    psycopg2.InterfaceError,
    db.OperationalError,
    db.InterfaceError,
)


def failure_of(exc: BaseException, *, where: str, consequence: str = "") -> DealsError:
    """The `DealsError` to answer for `exc`; an internal error is logged here with its id.

    `where` names the operation in the log ("POST /api/deals/", "upload 12"); `consequence`
    is added to an internal error's message ("the upload changed nothing").
    """
    if isinstance(exc, DealsError):
        return exc
    if database_unreachable(exc):
        logger.warning("%s: the database is unavailable: %s", where, _summary(exc))
        return DatabaseUnavailable()
    incident = secrets.token_hex(4)
    logger.error("internal error %s in %s: %s", incident, where, _summary(exc), exc_info=exc)
    return InternalError(incident, consequence)


def database_unreachable(exc: BaseException) -> bool:
    """True when `exc` says the database cannot be reached, not that a statement failed."""
    if not isinstance(exc, psycopg2.Error | db.Error):
        return False
    code = sqlstate(exc)
    if code is None:
        # libpq's own errors carry no SQLSTATE: connection refused, timed out, lost.
        return isinstance(exc, _CONNECTION_ERRORS)
    return code.startswith(_UNREACHABLE_CLASS) or code in _UNREACHABLE_CODES


def caused_by_input(exc: BaseException) -> bool:
    """True when PostgreSQL refused a value (bad data, a CHECK, a size limit)."""
    code = sqlstate(exc)
    return code is not None and code[:2] in _INPUT_CLASSES


def sqlstate(exc: BaseException) -> str | None:
    """The SQLSTATE of a driver error, or of the one Django wrapped; None when there is none."""
    for candidate in (exc, exc.__cause__):
        if isinstance(candidate, psycopg2.Error):
            return candidate.pgcode
    return None


def _summary(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}"
