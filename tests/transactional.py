"""Helpers for the tests that commit for real (transaction=True) and watch the upload lock."""

import io

from django.db import connection

from deals.services import deals_replace_from_csv

HEADER = b"customer,item,total,quantity,date\n"
ADVISORY_LOCKS = """
    SELECT count(*) FROM pg_locks
    WHERE locktype = 'advisory' AND database = (
        SELECT oid FROM pg_database WHERE datname = current_database()
    )
"""


def advisory_locks() -> int:
    """Advisory locks held in this database (other test databases on the server do not count)."""
    with connection.cursor() as cursor:
        cursor.execute(ADVISORY_LOCKS)
        return cursor.fetchone()[0]


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
