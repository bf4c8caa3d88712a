"""The project's PostgreSQL backend, whose test database sorts text like the official image.

This machine's cluster defaults to `C.UTF-8`, where every text column already sorts by code
point; the official `postgres` image defaults to `en_US.utf8`, where `ё` sorts before `я`. The
test database is created with ICU `en-US` as its default collation (PostgreSQL 15 needs no OS
locale for that), so only the columns' explicit `"C"` collation keeps the report in code-point
order, and the ordering tests fail if it is dropped.
"""

from project.postgresql import base

TEST_DATABASE_LOCALE = (
    "WITH TEMPLATE template0 ENCODING 'UTF8' LOCALE_PROVIDER icu ICU_LOCALE 'en-US'"
)


class DatabaseCreation(base.DatabaseWrapper.creation_class):
    def sql_table_creation_suffix(self) -> str:
        return TEST_DATABASE_LOCALE


class DatabaseWrapper(base.DatabaseWrapper):
    creation_class = DatabaseCreation
