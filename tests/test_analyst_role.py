"""The analysts' role, exercised for real: a second connection logs in as it.

Roles are cluster-wide and the analyst's connection cannot see uncommitted data, hence
transactional tests, a role name unique to this test process, and a teardown that drops it.
"""

import base64
import hashlib
import hmac
import io
import os
from collections.abc import Iterator
from decimal import Decimal

import psycopg2
import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from psycopg2 import errors, sql

from deals.analyst import (
    NAME_MAX_BYTES,
    NO_PASSWORD,
    NOT_MIGRATED,
    analyst_role_ensure,
    analyst_role_regrant,
    invalid_connection_limit,
    invalid_name,
    invalid_timeout,
    unfit_role,
)
from deals.errors import DealsError
from deals.services import deals_replace_from_csv
from tests.transactional import wait_until

pytestmark = pytest.mark.django_db(transaction=True)

ANALYST = f"analyst_test_{os.getpid()}"
OTHER_ROLE = f"analyst_other_{os.getpid()}"
PASSWORD = "first-secret"
EMPTY_DEALS = b"customer,item,total,quantity,date\r\n"


@pytest.fixture
def role_cleanup() -> Iterator[None]:
    yield
    for name in (ANALYST, OTHER_ROLE):
        drop_role(name)


def ensure(username: str = ANALYST, **changes) -> bool:
    arguments = {"password": PASSWORD, "statement_timeout": "30s", "connection_limit": 3}
    return analyst_role_ensure(username=username, **(arguments | changes))


@pytest.fixture
def analyst(role_cleanup) -> str:
    ensure()
    return ANALYST


@pytest.fixture
def analyst_sessions(role_cleanup) -> Iterator[list]:
    """Connections opened as the analyst, closed before the role is dropped."""
    opened: list = []
    yield opened
    for session in opened:
        session.close()


@pytest.fixture
def analyst_db(analyst, analyst_sessions):
    return connect_as(analyst, analyst_sessions)


@pytest.fixture
def uploaded_deals(deals_csv) -> Iterator[None]:
    deals_replace_from_csv(file=io.BytesIO(deals_csv), filename="deals.csv")
    yield
    # The flush after a transactional test leaves materialized views alone: empty them here.
    deals_replace_from_csv(file=io.BytesIO(EMPTY_DEALS), filename="empty.csv")


def connect_as(username: str, sessions: list, password: str = PASSWORD):
    params = connection.settings_dict
    session = psycopg2.connect(
        host=params["HOST"] or "127.0.0.1",
        port=params["PORT"] or 5432,
        dbname=params["NAME"],
        user=username,
        password=password,  # checked by compose's PostgreSQL; local trust ignores it
    )
    session.autocommit = True  # as psql: no transaction idles between statements
    sessions.append(session)
    return session


def fetch(session, statement: str) -> list[tuple]:
    with session.cursor() as cursor:
        cursor.execute(statement)
        return cursor.fetchall()


def show(session, name: str) -> str:
    return fetch(session, f"SHOW {name}")[0][0]


def app_fetch(statement: str, params=()) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(statement, params)
        return cursor.fetchall()


def app_execute(statement: sql.Composable) -> None:
    with connection.cursor() as cursor:
        cursor.execute(statement.as_string(connection.connection))


def drop_role(name: str) -> None:
    if app_fetch("SELECT FROM pg_roles WHERE rolname = %s", [name]):
        role = sql.Identifier(name)
        app_execute(sql.SQL("DROP OWNED BY {}").format(role))
        app_execute(sql.SQL("DROP ROLE {}").format(role))


def role_row(name: str) -> list[tuple]:
    return app_fetch(
        "SELECT rolcanlogin, rolsuper, rolcreatedb, rolcreaterole, rolinherit, rolconnlimit"
        " FROM pg_roles WHERE rolname = %s",
        [name],
    )


def password_matches(name: str, password: str) -> bool:
    """Check the stored SCRAM-SHA-256 verifier against a password (RFC 5802)."""
    [(verifier,)] = app_fetch("SELECT rolpassword FROM pg_authid WHERE rolname = %s", [name])
    method, rest = verifier.split("$", 1)
    iterations_salt, keys = rest.split("$")
    iterations, salt = iterations_salt.split(":")
    stored_key = keys.split(":")[0]
    salted = hashlib.pbkdf2_hmac(
        "sha256", password.encode(), base64.b64decode(salt), int(iterations)
    )
    client_key = hmac.digest(salted, b"Client Key", "sha256")
    expected = base64.b64encode(hashlib.sha256(client_key).digest()).decode()
    return method == "SCRAM-SHA-256" and hmac.compare_digest(expected, stored_key)


def test_ensure_creates_a_login_role_without_powers(analyst):
    assert role_row(analyst) == [(True, False, False, False, False, 3)]
    assert password_matches(analyst, PASSWORD)


def test_analyst_reads_the_report_views_and_tables(uploaded_deals, analyst_db, expected_report):
    top = fetch(
        analyst_db, "SELECT username, spent_money, gems FROM deals_top_customers ORDER BY rank"
    )

    expected = [
        (row["username"], Decimal(str(row["spent_money"])), row["gems"])
        for row in expected_report["response"]
    ]
    assert top == expected
    assert fetch(analyst_db, "SELECT count(*), sum(deals) FROM deals_customer_totals") == [
        app_fetch("SELECT count(*), sum(deals) FROM deals_customer_totals")[0]
    ]
    assert fetch(analyst_db, "SELECT count(*) FROM deals_deal") == [(767,)]
    assert fetch(analyst_db, "SELECT filename, rows, status FROM deals_upload") == [
        ("deals.csv", 767, "ok")
    ]


@pytest.mark.parametrize(
    "statement",
    [
        "INSERT INTO deals_deal (customer, item, total, quantity, date)"
        " VALUES ('eve', 'Opal', 1, 1, now())",
        "UPDATE deals_deal SET total = 0",
        "DELETE FROM deals_deal",
        "TRUNCATE deals_deal",
        "UPDATE deals_upload SET status = 'ok'",
        "DELETE FROM deals_upload",
        "REFRESH MATERIALIZED VIEW deals_customer_totals",
        "REFRESH MATERIALIZED VIEW CONCURRENTLY deals_top_customers",
        "CREATE TABLE notes (id int)",
        "CREATE TEMPORARY TABLE notes (id int)",
        "CREATE VIEW big_spenders AS SELECT 1",
        "CREATE SCHEMA notes",
        "SELECT * FROM auth_user",
        "SELECT * FROM django_session",
        "SELECT * FROM django_migrations",
        "SELECT nextval('deals_deal_id_seq')",
        "GRANT SELECT ON auth_user TO PUBLIC",
        "SET ROLE pg_read_all_data",
        "GRANT pg_read_all_data TO CURRENT_USER",
    ],
)
def test_analyst_is_refused_everything_else(analyst_db, statement):
    # Refused by the grants, not merely by the read-only default, which a session can turn off.
    fetch(analyst_db, "SET default_transaction_read_only = off; SELECT 1")

    with pytest.raises(errors.InsufficientPrivilege):
        fetch(analyst_db, statement)


def test_analyst_transactions_are_read_only_by_default(analyst_db):
    assert show(analyst_db, "default_transaction_read_only") == "on"
    with pytest.raises(errors.ReadOnlySqlTransaction):
        fetch(analyst_db, "DELETE FROM deals_deal")


@pytest.fixture
def impatient_session(role_cleanup, analyst_sessions):
    """An analyst session whose role times out after 200 ms, to keep the tests fast."""
    ensure(statement_timeout="200ms")
    return connect_as(ANALYST, analyst_sessions)


def test_analyst_statements_time_out(impatient_session):
    assert show(impatient_session, "statement_timeout") == "200ms"
    with pytest.raises(errors.QueryCanceled):
        fetch(impatient_session, "SELECT pg_sleep(2)")


def session_alive(pid: int) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = %s", [pid])
        return cursor.fetchone()[0] == 1


def test_analyst_idle_transaction_is_ended(impatient_session):
    impatient_session.autocommit = False
    fetch(impatient_session, "SELECT count(*) FROM deals_deal")  # opens a transaction, idles
    pid = impatient_session.get_backend_pid()

    wait_until(lambda: not session_alive(pid), "the idle session ended by the server")

    with pytest.raises(psycopg2.OperationalError):
        fetch(impatient_session, "SELECT 1")


def test_analyst_connections_are_limited(analyst_sessions, role_cleanup):
    ensure(connection_limit=1)
    connect_as(ANALYST, analyst_sessions)

    with pytest.raises(psycopg2.OperationalError, match="too many connections for role"):
        connect_as(ANALYST, analyst_sessions)


def test_ensure_again_updates_password_and_settings(analyst, analyst_sessions):
    created = ensure(password="second-secret", statement_timeout="2min", connection_limit=5)

    assert created is False
    assert role_row(analyst) == [(True, False, False, False, False, 5)]
    assert password_matches(analyst, "second-secret")
    assert not password_matches(analyst, PASSWORD)
    session = connect_as(analyst, analyst_sessions, password="second-secret")
    assert show(session, "statement_timeout") == "2min"


def test_ensure_restores_revoked_grants(analyst, analyst_sessions):
    app_execute(sql.SQL("REVOKE SELECT ON deals_deal FROM {}").format(sql.Identifier(analyst)))

    ensure()

    assert fetch(connect_as(analyst, analyst_sessions), "SELECT count(*) FROM deals_deal") == [(0,)]


def recreate_views() -> None:
    # What migrate does when a view's SQL changed: drop and create every view again.
    call_command("sync_pgviews", materialized_views_check_sql_changed=False)


def test_recreated_views_are_readable_again(analyst_db, settings):
    settings.DEALS_ANALYST_USER = ANALYST

    recreate_views()

    assert fetch(analyst_db, "SELECT count(*) FROM deals_top_customers") == [(0,)]
    assert fetch(analyst_db, "SELECT count(*) FROM deals_customer_totals") == [(0,)]


def test_recreated_views_lose_their_grants_without_the_analyst_setting(analyst_db, settings):
    settings.DEALS_ANALYST_USER = ""

    recreate_views()

    with pytest.raises(errors.InsufficientPrivilege):
        fetch(analyst_db, "SELECT count(*) FROM deals_top_customers")


def test_regrant_without_the_role_does_nothing():
    assert analyst_role_regrant(username=ANALYST) is False
    assert role_row(ANALYST) == []


@pytest.mark.parametrize(
    ("arguments", "error"),
    [
        ({"username": ""}, invalid_name("")),
        ({"username": "pg_analyst"}, invalid_name("pg_analyst")),
        ({"username": "a" * (NAME_MAX_BYTES + 1)}, invalid_name("a" * (NAME_MAX_BYTES + 1))),
        ({"password": ""}, DealsError(NO_PASSWORD)),
        ({"statement_timeout": "0"}, invalid_timeout("0")),
        ({"statement_timeout": "-5s"}, invalid_timeout("-5s")),
        ({"statement_timeout": "1.5s"}, invalid_timeout("1.5s")),
        ({"statement_timeout": "30 seconds"}, invalid_timeout("30 seconds")),
        ({"statement_timeout": "100d"}, invalid_timeout("100d")),  # PostgreSQL's own limit
        ({"connection_limit": 0}, invalid_connection_limit(0)),
    ],
)
def test_ensure_refuses_invalid_arguments(role_cleanup, arguments, error):
    with pytest.raises(DealsError) as refused:
        ensure(**arguments)

    assert refused.value.message == error.message
    assert role_row(ANALYST) == []  # nothing created, the transaction rolled back


@pytest.fixture
def unmigrated_upload_table() -> Iterator[None]:
    """As before `migrate` created it; put back for the next tests."""
    app_execute(sql.SQL("ALTER TABLE deals_upload RENAME TO deals_upload_aside"))
    yield
    app_execute(sql.SQL("ALTER TABLE deals_upload_aside RENAME TO deals_upload"))


def test_ensure_before_migrate_says_so(unmigrated_upload_table, role_cleanup):
    with pytest.raises(DealsError) as refused:
        ensure()

    assert refused.value.message == NOT_MIGRATED
    assert role_row(ANALYST) == []


@pytest.fixture
def creator_role(role_cleanup) -> str:
    app_execute(sql.SQL("CREATE ROLE {} LOGIN CREATEDB").format(sql.Identifier(ANALYST)))
    return ANALYST


@pytest.fixture
def member_role(role_cleanup) -> str:
    for name in (ANALYST, OTHER_ROLE):
        app_execute(sql.SQL("CREATE ROLE {}").format(sql.Identifier(name)))
    app_execute(
        sql.SQL("GRANT {} TO {}").format(sql.Identifier(OTHER_ROLE), sql.Identifier(ANALYST))
    )
    return ANALYST


# The application's role in tests and in compose: a superuser that owns the tables.
OWN_ROLE_REASONS = [
    "the application's own role",
    "a superuser",
    "allowed to create roles",
    "allowed to create databases",
    "a replication role",
    "allowed to bypass row security",
    "the owner of database objects",
]


@pytest.fixture
def own_role() -> str:
    return app_fetch("SELECT current_user")[0][0]


def test_ensure_refuses_the_applications_own_role(own_role):
    with pytest.raises(DealsError) as refused:
        ensure(own_role)

    assert refused.value.message == unfit_role(own_role, OWN_ROLE_REASONS).message
    assert app_fetch("SELECT rolsuper FROM pg_roles WHERE rolname = current_user") == [(True,)]


def test_regrant_refuses_the_applications_own_role(own_role):
    # Its revokes would take the owner's own privileges away from it.
    with pytest.raises(DealsError) as refused:
        analyst_role_regrant(username=own_role)

    assert refused.value.message == unfit_role(own_role, OWN_ROLE_REASONS).message


def test_ensure_refuses_a_role_with_powers(creator_role):
    with pytest.raises(DealsError) as refused:
        ensure(creator_role)

    expected = unfit_role(creator_role, ["allowed to create databases"])
    assert refused.value.message == expected.message
    assert role_row(creator_role) == [(True, False, True, False, True, -1)]


def test_ensure_refuses_a_member_of_other_roles(member_role):
    with pytest.raises(DealsError) as refused:
        ensure(member_role)

    assert refused.value.message == unfit_role(member_role, ["a member of other roles"]).message


def test_command_without_user_does_nothing(settings, capsys, role_cleanup):
    settings.DEALS_ANALYST_USER = ""

    call_command("ensure_analyst_role")

    assert capsys.readouterr().out == "DEALS_ANALYST_USER is not set: no analyst role.\n"


@pytest.fixture
def analyst_settings(settings, role_cleanup):
    settings.DEALS_ANALYST_USER = ANALYST
    settings.DEALS_ANALYST_PASSWORD = PASSWORD
    settings.DEALS_ANALYST_STATEMENT_TIMEOUT = "30s"
    settings.DEALS_ANALYST_CONNECTION_LIMIT = 10
    return settings


def test_command_creates_then_updates_the_role(analyst_settings, capsys, analyst_sessions):
    call_command("ensure_analyst_role")
    call_command("ensure_analyst_role")

    tables = (
        "deals_top_customers, deals_top_customers_json, deals_customer_totals, deals_deal,"
        " deals_upload"
    )
    assert capsys.readouterr().out == (
        f"analyst role '{ANALYST}' created: SELECT on {tables}; statement_timeout 30s\n"
        f"analyst role '{ANALYST}' updated: SELECT on {tables}; statement_timeout 30s\n"
    )
    session = connect_as(ANALYST, analyst_sessions)
    assert show(session, "statement_timeout") == "30s"
    assert show(session, "idle_in_transaction_session_timeout") == "30s"


def test_command_reports_a_refusal(analyst_settings):
    analyst_settings.DEALS_ANALYST_PASSWORD = ""

    with pytest.raises(CommandError, match=f"^{NO_PASSWORD}$"):
        call_command("ensure_analyst_role")

    assert role_row(ANALYST) == []
