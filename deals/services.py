"""Writes. Every path that changes the deals (API, admin, management command) goes through here."""

import logging
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import BinaryIO, Literal

from django.contrib.auth import get_user_model
from django.db import DatabaseError, connection, transaction
from django.utils import timezone
from psycopg2 import sql

from deals.errors import DealsError, UploadTooLarge
from deals.failures import caused_by_input, failure_of
from deals.ingest import format as fmt
from deals.ingest.stream import MeasuredFile, ReadAhead, ValidatedCsv
from deals.models import CustomerTotal, Deal, TopCustomer, TopCustomersJson, Upload

logger = logging.getLogger(__name__)

# Serializes uploads: the second waits for the first to commit, then replaces its data.
UPLOAD_LOCK_KEY = 0x6465616C5F637376  # "deal_csv"
# Serializes start-ups: replicas started together migrate one after another.
STARTUP_LOCK_KEY = 0x6465616C5F757021  # "deal_up!"

# "COPY deals_deal, line 17, column total: "abc"" (PostgreSQL's error context)
COPY_CONTEXT = re.compile(r'line (\d+)(?:, column (\w+): "(.*)")?', re.DOTALL)


def deals_replace_from_csv(
    *, file: BinaryIO, filename: str, progress: Callable[[int], None] | None = None
) -> Upload:
    """Replace all deals with the file's and refresh the reports, all or nothing.

    The attempt is recorded in Upload whatever happens; a failed one leaves the previous
    deals and reports exactly as they were. Raises DealsError: the file's fault (400, the
    line named), too large (413), the database unavailable (503) or an internal error (500,
    its id logged with the traceback).
    """
    _mark_interrupted_uploads()
    upload = Upload.objects.create(filename=_label(filename), backend_pid=_backend_pid())
    started = time.monotonic()
    source = MeasuredFile(file)
    try:
        laps = _replace(upload, source, progress)
    except Exception as exc:
        failure = failure_of(exc, where=f"upload {upload.pk}", consequence=CHANGED_NOTHING)
        _record_failure(upload, source, failure)
        logger.warning(
            "upload %s file=%r outcome=error rows=0 bytes=%s duration=%.3fs error=%s",
            upload.pk,
            filename,
            upload.size,
            time.monotonic() - started,
            upload.error,
        )
        if failure is exc:
            raise
        raise failure from exc
    logger.info(
        "upload %s file=%r outcome=ok rows=%s bytes=%s duration=%.3fs steps: %s",
        upload.pk,
        filename,
        upload.rows,
        upload.size,
        time.monotonic() - started,
        laps,
    )
    return upload


CHANGED_NOTHING = "the upload changed nothing"
INTERRUPTED = "interrupted: the process running the upload stopped before it finished"

# A running upload whose database session is gone (its worker was killed) will never finish;
# its transaction was rolled back with the session.
_MARK_INTERRUPTED = sql.SQL(
    "UPDATE {upload} SET {status} = %s, {error} = %s, {finished_at} = now()"
    " WHERE {status} = %s AND NOT EXISTS ("
    " SELECT 1 FROM pg_stat_activity activity"
    " WHERE activity.pid = {upload}.{backend_pid}"
    " AND activity.backend_start <= {upload}.{started_at})"
)


def _mark_interrupted_uploads() -> None:
    columns = {
        name: sql.Identifier(Upload._meta.get_field(name).column)
        for name in ("status", "error", "finished_at", "backend_pid", "started_at")
    }
    statement = _MARK_INTERRUPTED.format(upload=sql.Identifier(Upload._meta.db_table), **columns)
    with connection.cursor() as cursor:
        cursor.execute(
            _composed(statement), [Upload.Status.ERROR, INTERRUPTED, Upload.Status.RUNNING]
        )


def _backend_pid() -> int:
    connection.ensure_connection()
    return connection.connection.get_backend_pid()


def reports_refresh() -> list[str]:
    """Recompute the report views from the deals table (they are refreshed by every upload).

    Returns the names of the views refreshed, in refresh order.
    """
    with transaction.atomic():
        _refresh_reports()
    return [view._meta.db_table for view, _ in REPORT_VIEWS]


class Laps:
    """Wall-clock seconds of consecutive steps, by name: `copy=1.203s key=0.180s ...`."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self._last = time.monotonic()

    def lap(self, name: str) -> None:
        """Record the time since the previous lap (or the start) as step `name`."""
        now = time.monotonic()
        self.seconds[name] = now - self._last
        self._last = now

    def __str__(self) -> str:
        return " ".join(f"{name}={seconds:.3f}s" for name, seconds in self.seconds.items())


def _replace(upload: Upload, file: MeasuredFile, progress: Callable[[int], None] | None) -> Laps:
    """The upload's transaction; returns the seconds each step took."""
    stream = ValidatedCsv(file, progress)  # checks the header before anything is locked
    laps = Laps()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [UPLOAD_LOCK_KEY])
        laps.lap("lock")  # waiting for the upload before this one to commit
        cursor.execute(_composed(sql.SQL("TRUNCATE {}").format(_deal_table())))
        with _primary_key_dropped(cursor):
            upload.rows = _copy(cursor, stream)
            laps.lap("copy")
        # No ANALYZE: the refreshes' plans do not depend on the deals' statistics (their
        # aggregation sorts whatever the estimates), the key rebuild has just counted the rows
        # into pg_class.reltuples (the admin's estimate), and autovacuum analyzes the new
        # rows after the commit for anyone else.
        laps.lap("key")
        _refresh_reports(laps)
        upload.size, upload.sha256 = stream.size, stream.sha256
        upload.status, upload.finished_at, upload.error = Upload.Status.OK, timezone.now(), ""
        upload.save(update_fields=["rows", "size", "sha256", "status", "finished_at", "error"])
    laps.lap("commit")
    return laps


def _copy(cursor, stream: ValidatedCsv) -> int:
    """COPY the checked stream into the deals table, truncated earlier in this transaction.

    FREEZE writes the rows frozen and all-visible, as the table was truncated in this
    (sub)transaction: no vacuum pass nor hint-bit writes over the whole table after the
    commit. TRUNCATE already makes the table's contents switch for every reader at once.
    """
    columns = [Deal._meta.get_field(name).column for name in stream.columns]
    statement = sql.SQL(
        "COPY {} ({}) FROM STDIN WITH (FORMAT csv, HEADER true, FREEZE true)"
    ).format(_deal_table(), sql.SQL(", ").join(map(sql.Identifier, columns)))
    try:
        with connection.wrap_database_errors, ReadAhead(stream) as feed:
            cursor.copy_expert(statement, feed)
    except DatabaseError as exc:
        if not caused_by_input(exc):
            raise
        # PostgreSQL refused a value before the line the stream stopped at, if any.
        raise _copy_error(exc, stream.lines_before_header) from exc
    if stream.error:
        raise stream.error
    return cursor.rowcount


@contextmanager
def _primary_key_dropped(cursor) -> Iterator[None]:
    """Build the primary key index once after the load instead of row by row during COPY.

    TRUNCATE already holds the table's exclusive lock, so nobody sees it without its key; a
    failed load rolls back and the key is back as it was.
    """
    table = _deal_table()
    cursor.execute(
        "SELECT conname FROM pg_constraint WHERE conrelid = %s::regclass AND contype = 'p'",
        [Deal._meta.db_table],
    )
    name = sql.Identifier(cursor.fetchone()[0])
    cursor.execute(_composed(sql.SQL("ALTER TABLE {} DROP CONSTRAINT {}").format(table, name)))
    yield
    key = sql.Identifier(Deal._meta.pk.column)
    add = sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} PRIMARY KEY ({})").format(table, name, key)
    cursor.execute(_composed(add))


def _copy_error(exc: DatabaseError, lines_before_header: int) -> DealsError:
    """The file's line PostgreSQL refused, in our words. COPY counts lines from the header it
    was handed; the file may have a `sep=,` line before it."""
    diag = exc.__cause__.diag
    match = COPY_CONTEXT.search(diag.context or "")
    if not match:
        return fmt.CsvError(f"the file was refused: {diag.message_primary}")
    number, column, value = int(match[1]) + lines_before_header, match[2], match[3]
    if diag.constraint_name in fmt.CONSTRAINT_PROBLEMS:
        return fmt.at_line(number, fmt.CONSTRAINT_PROBLEMS[diag.constraint_name])
    if column in fmt.OUT_OF_RANGE:
        return fmt.value_error(number, column, value, fmt.OUT_OF_RANGE[column])
    return fmt.at_line(number, diag.message_primary)


# The report views in dependency order (each reads the one before it), each with whether its
# refresh must leave readers unblocked. The totals view is only read by staff and analysts: a
# plain refresh is the fastest. The top view (admin, analysts) and its rendering as JSON (what
# GET reads) are refreshed concurrently: readers are never blocked and switch at the commit.
REPORT_VIEWS = ((CustomerTotal, False), (TopCustomer, True), (TopCustomersJson, True))


def _refresh_reports(laps: Laps | None = None) -> None:
    # pgviews runs REFRESH on the raw psycopg2 cursor: wrap it, so that a lost connection is
    # Django's OperationalError (503, and the connection is discarded), not an internal error.
    with connection.wrap_database_errors:
        for view, concurrently in REPORT_VIEWS:
            view.refresh(concurrently=concurrently)
            if laps:
                laps.lap(view._meta.db_table)


def _record_failure(upload: Upload, file: MeasuredFile, failure: DealsError) -> None:
    upload.status, upload.finished_at = Upload.Status.ERROR, timezone.now()
    upload.error = failure.message
    upload.rows = None
    upload.size, upload.sha256 = _measure(file, failure)
    try:
        upload.save(update_fields=["status", "finished_at", "error", "rows", "size", "sha256"])
    except DatabaseError:
        logger.exception("could not record the failure of upload %s", upload.pk)


def _measure(file: MeasuredFile, failure: DealsError) -> tuple[int | None, str]:
    """Size and SHA-256 of the whole file, for the record of a failed upload; unknown when
    the file cannot be read to its end (too large, cut off, unreadable)."""
    if isinstance(failure, UploadTooLarge):
        return None, ""
    try:
        file.read_rest()
    except (OSError, ValueError, DealsError):
        return None, ""
    return file.size, file.sha256


def _label(filename: str) -> str:
    """The file name as the history keeps it: a label, without control characters (PostgreSQL
    text cannot hold NUL), lone surrogates as U+FFFD (UTF-8 cannot hold them: a name decoded by
    a codec such as utf-7, or a path given in bytes that are not UTF-8), at most the column's
    255 characters."""
    return _SURROGATES.sub("\ufffd", _CONTROL_CHARACTERS.sub("", filename))[:255]


_CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f]")
_SURROGATES = re.compile(r"[\ud800-\udfff]")


def _deal_table() -> sql.Identifier:
    return sql.Identifier(Deal._meta.db_table)


def _composed(statement: sql.Composed) -> str:
    return statement.as_string(connection.connection)


def superuser_ensure(
    *, username: str, password: str, email: str = ""
) -> Literal["created", "updated", "unchanged"]:
    """Make `username` an active superuser with this password; safe to run at every start.

    The password is re-hashed only when it differs: a new hash (new salt) would end every
    admin session, and this runs each time the container starts.
    """
    user_model = get_user_model()
    with transaction.atomic():
        users = user_model.objects.select_for_update()
        user, created = users.get_or_create(**{user_model.USERNAME_FIELD: username})
        wanted = {"is_active": True, "is_staff": True, "is_superuser": True}
        if email:
            wanted["email"] = email
        changed = [name for name, value in wanted.items() if getattr(user, name) != value]
        for name in changed:
            setattr(user, name, wanted[name])
        if not user.check_password(password):
            user.set_password(password)
            changed.append("password")
        if changed:
            user.save()
    if created:
        return "created"
    return "updated" if changed else "unchanged"


@contextmanager
def startup_serialized() -> Iterator[None]:
    """Hold a session advisory lock on the default connection while the block runs.

    `docker-compose up --scale web=3` starts three containers at once; each migrates and
    ensures its roles at start. Concurrent `migrate` runs race to create the same tables, so
    one runs at a time and the next finds nothing left to do. The lock is the session's (not a
    transaction's) because migrate commits as it goes; it goes with the session if the
    process dies.
    """
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_lock(%s)", [STARTUP_LOCK_KEY])
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s)", [STARTUP_LOCK_KEY])
