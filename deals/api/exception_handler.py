"""The single place that turns errors into the API's {"Status": "Error", "Desc": ...} shape."""

import logging
from http import HTTPStatus

from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.db import InterfaceError, OperationalError
from rest_framework.response import Response
from rest_framework.views import exception_handler

from deals.errors import DealsError

logger = logging.getLogger(__name__)

DATABASE_UNAVAILABLE = "the database is unavailable; try again later"
INTERNAL_ERROR = "internal error; the upload changed nothing"


def error_body(desc: str) -> dict:
    return {"Status": "Error", "Desc": desc}


def status_desc_exception_handler(exc, context):
    if isinstance(exc, DealsError):
        return Response(error_body(exc.message), status=exc.status_code)
    if isinstance(exc, SuspiciousOperation):
        # Django's multipart limits (too many fields or files, a field too big) and the like:
        # the request is at fault, not the server.
        status = (
            HTTPStatus.REQUEST_ENTITY_TOO_LARGE
            if isinstance(exc, RequestDataTooBig)
            else HTTPStatus.BAD_REQUEST
        )
        return Response(error_body(str(exc) or "bad request"), status=status)
    if isinstance(exc, OperationalError | InterfaceError):
        logger.warning("database unavailable: %s", exc)
        return Response(error_body(DATABASE_UNAVAILABLE), status=HTTPStatus.SERVICE_UNAVAILABLE)
    response = exception_handler(exc, context)
    if response is None:
        logger.exception("unexpected error", exc_info=exc)
        return Response(error_body(INTERNAL_ERROR), status=HTTPStatus.INTERNAL_SERVER_ERROR)
    response.data = error_body(_flatten(response.data))
    return response


def _flatten(detail) -> str:
    if isinstance(detail, dict):
        if set(detail) == {"detail"}:
            return _flatten(detail["detail"])
        return "; ".join(f"{key}: {_flatten(value)}" for key, value in detail.items())
    if isinstance(detail, list):
        return "; ".join(_flatten(item) for item in detail)
    return str(detail)
