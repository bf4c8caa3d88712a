"""The single exception handler, called as DRF calls it: each kind of error, its whole answer."""

import logging
from http import HTTPStatus

import psycopg2
import pytest
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.db import InterfaceError, OperationalError
from rest_framework.exceptions import ValidationError

from deals.api.exception_handler import status_desc_exception_handler
from deals.errors import DealsError, too_large


def answer(exc: Exception) -> tuple[int, dict]:
    response = status_desc_exception_handler(exc, {})
    return response.status_code, response.data


@pytest.mark.parametrize(
    ("exc", "status", "desc"),
    [
        (DealsError("line 2: bad"), HTTPStatus.BAD_REQUEST, "line 2: bad"),
        (
            too_large(3),
            HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
            "the upload is larger than the limit of 3 MB",
        ),
        (SuspiciousOperation("too many fields"), HTTPStatus.BAD_REQUEST, "too many fields"),
        (SuspiciousOperation(), HTTPStatus.BAD_REQUEST, "bad request"),
        (RequestDataTooBig("too big"), HTTPStatus.REQUEST_ENTITY_TOO_LARGE, "too big"),
        (
            ValidationError({"deals": ["missing", "twice"], "other": "x"}),
            HTTPStatus.BAD_REQUEST,
            "deals: missing; twice; other: x",
        ),
        (ValidationError(["first", "second"]), HTTPStatus.BAD_REQUEST, "first; second"),
    ],
)
def test_errors_answer_status_and_desc(exc, status, desc):
    assert answer(exc) == (status, {"Status": "Error", "Desc": desc})


@pytest.mark.parametrize("kind", [OperationalError, InterfaceError])
def test_database_unreachable_is_503_and_logged(kind, caplog):
    exc = kind("server closed the connection unexpectedly")
    exc.__cause__ = psycopg2.OperationalError("server closed the connection unexpectedly")

    with caplog.at_level(logging.WARNING, logger="deals.api.exception_handler"):
        result = answer(exc)

    assert result == (
        HTTPStatus.SERVICE_UNAVAILABLE,
        {"Status": "Error", "Desc": "the database is unavailable; try again later"},
    )
    assert [(record.levelno, record.getMessage()) for record in caplog.records] == [
        (logging.WARNING, "database unavailable: server closed the connection unexpectedly")
    ]
