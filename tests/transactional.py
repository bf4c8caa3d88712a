"""Helpers for the tests that commit for real (transaction=True) and watch the upload's locks.

No test here waits a fixed time or asserts how long something took: an upload is paused at a
known point by a lock held in another session (`Gate`) or by an event, and what it waits on is
read from `pg_locks`. `wait_until`'s bound only keeps a broken test from hanging.
"""

import functools
import io
import time

import psycopg2
from django.db import connection, connections
from psycopg2 import sql

from deals.models import Deal
from deals.services import deals_replace_from_csv

HEADER = b"customer,item,total,quantity,date\n"
# Advisory locks held in this database (other test databases on the server do not count).
ADVISORY_LOCKS = """
    SELECT count(*) FROM pg_locks
    WHERE locktype = 'advisory' AND database = (
        SELECT oid FROM pg_database WHERE datname = current_database()
    )
"""
# The lock a backend waits for, if any: (locktype, relation name or NULL, the advisory key).
AWAITED_LOCK = """
    SELECT locktype, relation::regclass::text, (classid::bigint << 32) | objid::bigint
    FROM pg_locks WHERE pid = %s AND NOT granted
"""
PATIENCE_SECONDS = 60


def advisory_locks() -> int:
    with connection.cursor() as cursor:
        cursor.execute(ADVISORY_LOCKS)
        return cursor.fetchone()[0]


def awaited_lock(pid: int) -> tuple[str, str | None, int] | None:
    """What the backend `pid` is waiting for: (locktype, relation, advisory key), or None."""
    with connection.cursor() as cursor:
        cursor.execute(AWAITED_LOCK, [pid])
        return cursor.fetchone()


def wait_until(condition, what: str):
    """Poll `condition` until it returns something true, and return that.

    The conditions waited for are reached in milliseconds; the bound only turns a broken test
    into a failure instead of a hang, and no assertion depends on how long the wait took.
    """
    deadline = time.monotonic() + PATIENCE_SECONDS
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(0.01)
    raise AssertionError(f"never happened: {what}")


class Gate:
    """A lock held by another session in an open transaction: an upload stops at the point
    where it needs that lock, and goes on when the gate opens (the transaction rolls back)."""

    def __init__(self, statement: sql.Composable):
        self._statement = statement
        self._session = None

    def __enter__(self) -> "Gate":
        self._session = psycopg2.connect(**connection.get_connection_params())
        with self._session.cursor() as cursor:
            cursor.execute(self._statement)
        return self

    def open(self) -> None:
        if self._session is not None:
            self._session.rollback()
            self._session.close()
            self._session = None

    def __exit__(self, *exc_info) -> None:
        self.open()


def deal_sequence() -> str:
    """The sequence that numbers the deals: COPY takes a lock on it at its first row."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_get_serial_sequence(%s, %s)::regclass::text",
            [Deal._meta.db_table, Deal._meta.pk.column],
        )
        return cursor.fetchone()[0]


def copy_gate() -> Gate:
    """Stops an upload inside COPY, before its first row is stored.

    ALTER SEQUENCE holds SHARE ROW EXCLUSIVE on the sequence until the gate opens; the
    upload's COPY needs ROW EXCLUSIVE on it for the first id. By then the upload holds its
    advisory lock and has truncated the table.
    """
    name = sql.Identifier(*deal_sequence().split("."))
    return Gate(sql.SQL("ALTER SEQUENCE {} CACHE 1").format(name))


def wait_until_waiting_for(relation: str, pid_of) -> int:
    """Wait until the backend given by `pid_of()` waits for a lock on `relation`; its pid."""

    def waiting() -> int | None:
        pid = pid_of()
        lock = awaited_lock(pid) if pid else None
        return pid if lock and lock[1] == relation else None

    return wait_until(waiting, f"a backend waiting for a lock on {relation}")


def closing_connection(function):
    """Run `function` in a worker thread, then close that thread's database connections."""

    @functools.wraps(function)
    def run(*args):
        try:
            return function(*args)
        finally:
            connections.close_all()

    return run


def reports_emptied() -> None:
    """Empty the report views: the flush after a transactional test empties tables, not views."""
    deals_replace_from_csv(file=io.BytesIO(HEADER), filename="teardown.csv")


def generated_file(prefix: str, rows: int) -> bytes:
    """A valid deals file of `rows` lines; customers are `prefix` and a number."""
    lines = (
        f"{prefix}{number % 97},gem{number % 11},{number % 5000}.{number % 100:02d},1,"
        "2018-12-14 08:29:52\n"
        for number in range(rows)
    )
    return HEADER + "".join(lines).encode()
