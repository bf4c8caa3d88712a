"""The exception handler's own branches, called as DRF calls it. Which failure an exception is
(503, 500 with an id) is `deals.failures`' decision, tested in tests/test_failures.py."""

from http import HTTPStatus

import psycopg2
import pytest
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.db import OperationalError
from rest_framework.exceptions import NotFound, UnsupportedMediaType, ValidationError
from rest_framework.request import Request
from rest_framework.test import APIRequestFactory

from deals.api.exception_handler import status_desc_exception_handler
from deals.api.parsers import unsupported_body
from deals.errors import DealsError, too_large


def lost_connection() -> OperationalError:
    error = OperationalError("server closed the connection unexpectedly")
    error.__cause__ = psycopg2.OperationalError("server closed the connection unexpectedly")
    return error


def answer(exc: Exception) -> tuple[int, dict]:
    request = Request(APIRequestFactory().post("/api/deals/"))
    response = status_desc_exception_handler(exc, {"request": request})
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
        (SuspiciousOperation("names a setting"), HTTPStatus.BAD_REQUEST, "bad request"),
        (SuspiciousOperation(), HTTPStatus.BAD_REQUEST, "bad request"),
        (
            RequestDataTooBig("names a setting"),
            HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
            "the request body is too large",
        ),
        (NotFound(), HTTPStatus.NOT_FOUND, "Not found."),
        (
            ValidationError({"deals": ["missing", "twice"], "other": "x"}),
            HTTPStatus.BAD_REQUEST,
            "deals: missing; twice; other: x",
        ),
        (ValidationError(["first", "second"]), HTTPStatus.BAD_REQUEST, "first; second"),
        (
            lost_connection(),
            HTTPStatus.SERVICE_UNAVAILABLE,
            "the database is unavailable; try again later",
        ),
    ],
    ids=repr,
)
def test_errors_answer_status_and_desc(exc, status, desc):
    assert answer(exc) == (status, {"Status": "Error", "Desc": desc})


def test_unsupported_media_type_names_the_type_without_its_parameters():
    body_type = "application/json; charset=utf-8"
    request = Request(APIRequestFactory().post("/api/deals/", b"{}", content_type=body_type))

    response = status_desc_exception_handler(UnsupportedMediaType("x"), {"request": request})

    expected = unsupported_body("application/json")
    assert (response.status_code, response.data) == (
        expected.status_code,
        {"Status": "Error", "Desc": expected.message},
    )
    assert "the body is application/json, not an upload" in expected.message
