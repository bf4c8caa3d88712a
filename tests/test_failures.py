"""Which kind of failure an exception is: the database unreachable (503), or anything else not
already a DealsError an internal error (500) with an id in the answer and in the log."""

import logging
import re

import psycopg2
import pytest
from django.db import DataError, OperationalError, connection

from deals.errors import DATABASE_UNAVAILABLE, DatabaseUnavailable, InternalError
from deals.failures import caused_by_input, database_unreachable, failure_of, sqlstate
from deals.ingest.format import CsvError


class Coded(psycopg2.OperationalError):
    """A driver error with the SQLSTATE a server would have sent."""

    pgcode = property(lambda self: self.args[1])


def wrapped(error: psycopg2.Error) -> OperationalError:
    """The error as Django raises it: its own class, the driver's error as the cause."""
    django_error = OperationalError(*error.args)
    django_error.__cause__ = error
    return django_error


@pytest.mark.parametrize(
    "error",
    [
        psycopg2.OperationalError("connection to server failed: Connection refused"),
        psycopg2.OperationalError("server closed the connection unexpectedly"),
        psycopg2.InterfaceError("connection already closed"),
        OperationalError("timeout expired"),
        Coded("connection failure", "08006"),
        Coded("terminating connection due to administrator command", "57P01"),
        Coded("the database system is shutting down", "57P03"),
        Coded("sorry, too many clients already", "53300"),
        wrapped(Coded("terminating connection due to administrator command", "57P01")),
    ],
    ids=repr,
)
def test_unreachable(error):
    assert database_unreachable(error)


@pytest.mark.parametrize(
    "error",
    [
        Coded("index row size 2816 exceeds btree version 4 maximum 2704", "54000"),
        wrapped(Coded("index row size 2816 exceeds btree version 4 maximum 2704", "54000")),
        Coded("deadlock detected", "40P01"),
        Coded("could not extend file: No space left on device", "53100"),
        Coded("canceling statement due to statement timeout", "57014"),
        DataError("invalid input syntax for type integer"),
        OSError("disk gone"),
        RuntimeError("boom"),
    ],
    ids=repr,
)
def test_reachable_database_or_not_a_database_error(error):
    assert not database_unreachable(error)


@pytest.mark.django_db
def test_sqlstate_of_real_errors_from_the_server():
    with connection.cursor() as cursor:
        cursor.execute("CREATE TEMPORARY TABLE wide (value text PRIMARY KEY)")
        with pytest.raises(OperationalError) as limit:  # psycopg2 maps class 54 to it
            cursor.execute(
                "INSERT INTO wide SELECT string_agg(md5(n::text), '')"
                " FROM generate_series(1, 100) n"
            )
    assert sqlstate(limit.value) == "54000"
    assert caused_by_input(limit.value)
    assert not database_unreachable(limit.value)  # a limit, not an outage


@pytest.mark.django_db(transaction=True)
def test_terminated_session_is_unreachable():
    with pytest.raises(OperationalError) as terminated, connection.cursor() as cursor:
        cursor.execute("SELECT pg_terminate_backend(pg_backend_pid())")
    connection.close()
    assert database_unreachable(terminated.value)  # libpq: "server closed the connection"


def test_a_deals_error_is_answered_as_itself(caplog):
    error = CsvError("line 2: total 'x' is not a number")

    assert failure_of(error, where="test") is error
    assert caplog.records == []


def test_unreachable_is_database_unavailable_logged_on_one_line(caplog):
    failure = failure_of(
        psycopg2.OperationalError("Connection refused\nIs the server running?"),
        where="GET /api/deals/",
    )

    assert isinstance(failure, DatabaseUnavailable)
    assert (failure.status_code, failure.message) == (503, DATABASE_UNAVAILABLE)
    (record,) = caplog.records
    assert (record.levelno, record.getMessage(), record.exc_info) == (
        logging.WARNING,
        "GET /api/deals/: the database is unavailable: OperationalError: Connection refused",
        None,
    )


def test_anything_else_is_an_internal_error_whose_id_is_logged_with_the_traceback(caplog):
    try:
        raise RuntimeError("boom")
    except RuntimeError as exc:
        failure = failure_of(exc, where="GET /api/deals/", consequence="the upload changed nothing")

    assert isinstance(failure, InternalError)
    assert re.fullmatch(r"[0-9a-f]{8}", failure.incident)
    assert failure.status_code == 500
    assert failure.message == f"internal error (id {failure.incident}); the upload changed nothing"
    (record,) = caplog.records
    assert record.levelno == logging.ERROR
    assert (
        record.getMessage()
        == f"internal error {failure.incident} in GET /api/deals/: RuntimeError: boom"
    )
    assert record.exc_info[1].args == ("boom",)


def test_each_internal_error_has_its_own_id():
    first, second = (failure_of(RuntimeError("boom"), where="test") for _ in range(2))

    assert first.incident != second.incident
    assert first.message == f"internal error (id {first.incident})"
