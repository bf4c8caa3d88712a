"""Writes for the analysts' PostgreSQL role: it reads the reports, the deals and the uploads.

Read-only is enforced by the database: the role is granted SELECT on exactly five relations
and nothing else, so it cannot write, refresh a view, create an object or read another table
whatever it sets in its own session. A service module like deals/services.py, kept apart
because it manages roles and grants rather than the deals.
"""

import re

from django.db import DataError, ProgrammingError, connection, transaction
from psycopg2 import errors, sql
from psycopg2.extensions import encrypt_password

from deals.errors import DealsError
from deals.models import CustomerTotal, Deal, TopCustomer, TopCustomersJson, Upload

READABLE_MODELS = (TopCustomer, TopCustomersJson, CustomerTotal, Deal, Upload)


def readable_relations() -> list[str]:
    """The tables and views the analysts' role may read, by their database names."""
    return [model._meta.db_table for model in READABLE_MODELS]


# Where migrate creates the tables and django-pgviews the views.
SCHEMA = sql.Identifier("public")

# A positive whole number of ms, s, min, h or d (no unit: ms), PostgreSQL's notation.
TIMEOUT = re.compile(r"[1-9][0-9]*(ms|s|min|h|d)?")

NAME_MAX_BYTES = 63  # PostgreSQL silently truncates longer names

NO_PASSWORD = "the analysts' role needs a password"  # noqa: S105 - an error text
NOT_MIGRATED = "the tables to grant do not exist yet: run `manage.py migrate` first"

# Powers that a role already holding them must keep: refuse it rather than strip them.
UNFIT_REASONS = """
SELECT array_remove(ARRAY[
    CASE WHEN r.rolname = current_user THEN 'the application''s own role' END,
    CASE WHEN r.rolsuper THEN 'a superuser' END,
    CASE WHEN r.rolcreaterole THEN 'allowed to create roles' END,
    CASE WHEN r.rolcreatedb THEN 'allowed to create databases' END,
    CASE WHEN r.rolreplication THEN 'a replication role' END,
    CASE WHEN r.rolbypassrls THEN 'allowed to bypass row security' END,
    CASE WHEN EXISTS (SELECT FROM pg_auth_members m WHERE m.member = r.oid)
        THEN 'a member of other roles' END,
    CASE WHEN EXISTS (SELECT FROM pg_class c WHERE c.relowner = r.oid)
        OR EXISTS (SELECT FROM pg_namespace n WHERE n.nspowner = r.oid)
        OR EXISTS (SELECT FROM pg_database d WHERE d.datdba = r.oid)
        THEN 'the owner of database objects' END
], NULL)
FROM pg_roles r
WHERE r.rolname = %s
"""


def invalid_name(username: str) -> DealsError:
    rule = f"1 to {NAME_MAX_BYTES} bytes, not starting with pg_"
    return DealsError(f"{username!r} is not a usable role name: {rule}")


def invalid_timeout(value: str) -> DealsError:
    return DealsError(f"statement timeout {value!r} is not a positive duration like 30s or 500ms")


def invalid_connection_limit(value: int) -> DealsError:
    return DealsError(f"connection limit {value} is not a positive number of connections")


def unfit_role(username: str, reasons: list[str]) -> DealsError:
    return DealsError(f"role {username!r} cannot be the analysts' role: it is {', '.join(reasons)}")


def analyst_role_ensure(
    *, username: str, password: str, statement_timeout: str, connection_limit: int
) -> bool:
    """Create or update the analysts' login role and its grants; True when it was created.

    Idempotent: run at every container start, it also resets the password, the timeout and
    the grants to what the settings say.
    """
    _check_arguments(username, password, statement_timeout, connection_limit)
    with transaction.atomic(), connection.cursor() as cursor:
        created = _upsert_role(cursor, username, password, connection_limit)
        _set_session_defaults(cursor, username, statement_timeout)
        _restrict_database(cursor, username)
        _grant_reads(cursor, username)
    return created


def analyst_role_regrant(*, username: str) -> bool:
    """Grant the reads again, e.g. to views just re-created; False when there is no such role."""
    with transaction.atomic(), connection.cursor() as cursor:
        if not _role_exists_fit(cursor, username):
            return False
        _grant_reads(cursor, username)
    return True


def _check_arguments(
    username: str, password: str, statement_timeout: str, connection_limit: int
) -> None:
    if not username or len(username.encode()) > NAME_MAX_BYTES or username.startswith("pg_"):
        raise invalid_name(username)
    if not password:
        raise DealsError(NO_PASSWORD)
    if not TIMEOUT.fullmatch(statement_timeout):
        raise invalid_timeout(statement_timeout)
    if connection_limit < 1:
        raise invalid_connection_limit(connection_limit)


def _role_exists_fit(cursor, username: str) -> bool:
    """Whether the role exists; refuses one that must not lose its privileges to our revokes."""
    cursor.execute(UNFIT_REASONS, [username])
    row = cursor.fetchone()
    if row and row[0]:
        raise unfit_role(username, row[0])
    return row is not None


def _upsert_role(cursor, username: str, password: str, connection_limit: int) -> bool:
    existing = _role_exists_fit(cursor, username)
    # Hashed here (SCRAM, as the server is configured): the password never reaches the
    # server, nor its logs, in clear.
    verifier = encrypt_password(password, username, connection.connection)
    # New roles get PostgreSQL's defaults: NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION.
    # NOINHERIT: a membership granted later by hand does not silently widen the reads.
    statement = sql.SQL("{} ROLE {} WITH LOGIN NOINHERIT CONNECTION LIMIT {} PASSWORD {}").format(
        sql.SQL("ALTER" if existing else "CREATE"),
        sql.Identifier(username),
        sql.Literal(connection_limit),
        sql.Literal(verifier),
    )
    cursor.execute(statement)
    return not existing


def _set_session_defaults(cursor, username: str, statement_timeout: str) -> None:
    role = sql.Identifier(username)
    defaults = {
        "statement_timeout": statement_timeout,
        # An open transaction holds locks that the upload's view refresh waits for.
        "idle_in_transaction_session_timeout": statement_timeout,
        # A clearer refusal than "permission denied" for a write typed by mistake.
        "default_transaction_read_only": "on",
    }
    try:
        for name, value in defaults.items():
            cursor.execute(
                sql.SQL("ALTER ROLE {} SET {} = {}").format(
                    role, sql.Identifier(name), sql.Literal(value)
                )
            )
    except DataError as exc:  # e.g. more than PostgreSQL's limit of about 24 days
        raise invalid_timeout(statement_timeout) from exc


def _restrict_database(cursor, username: str) -> None:
    """Connect and look up names; no objects created, not even temporary tables.

    CREATE on schema public and TEMPORARY on the database are revoked from PUBLIC, since a
    role keeps whatever PUBLIC has (PostgreSQL 15 already creates the schema this way).
    """
    cursor.execute("SELECT current_database()")
    database = sql.Identifier(cursor.fetchone()[0])
    role = sql.Identifier(username)
    for statement in (
        "REVOKE ALL ON DATABASE {database} FROM {role}",
        "REVOKE CREATE, TEMPORARY ON DATABASE {database} FROM PUBLIC",
        "GRANT CONNECT ON DATABASE {database} TO {role}",
        "REVOKE ALL ON SCHEMA {schema} FROM {role}",
        "REVOKE CREATE ON SCHEMA {schema} FROM PUBLIC",
        "GRANT USAGE ON SCHEMA {schema} TO {role}",
    ):
        cursor.execute(sql.SQL(statement).format(database=database, role=role, schema=SCHEMA))


def _grant_reads(cursor, username: str) -> None:
    """SELECT on exactly the readable relations, and nothing on any other table or sequence.

    Grants are listed rather than given by ALTER DEFAULT PRIVILEGES, which would also open
    every table a later migration creates (users, sessions) to the analysts.
    """
    role = sql.Identifier(username)
    tables = sql.SQL(", ").join(sql.Identifier(m._meta.db_table) for m in READABLE_MODELS)
    for statement in (
        "REVOKE ALL ON ALL TABLES IN SCHEMA {schema} FROM PUBLIC, {role}",
        "REVOKE ALL ON ALL SEQUENCES IN SCHEMA {schema} FROM PUBLIC, {role}",
        "GRANT SELECT ON {tables} TO {role}",
    ):
        try:
            cursor.execute(sql.SQL(statement).format(schema=SCHEMA, role=role, tables=tables))
        except ProgrammingError as exc:
            if isinstance(exc.__cause__, errors.UndefinedTable):
                raise DealsError(NOT_MIGRATED) from exc
            raise
