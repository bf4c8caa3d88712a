"""The single place that turns errors into the API's {"Status": "Error", "Desc": ...} shape.

What an exception means is decided by `deals.failures.failure_of`, the same for every face:
the input's fault or a refused request (4xx), the database unreachable (503), anything else an
internal error (500) whose id is in the answer and in the log line with the traceback.
"""

from http import HTTPStatus

from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from rest_framework.exceptions import UnsupportedMediaType
from rest_framework.response import Response
from rest_framework.views import exception_handler

from deals.api.parsers import unsupported_body
from deals.errors import DATABASE_UNAVAILABLE, INTERNAL_ERROR
from deals.failures import failure_of

__all__ = ["DATABASE_UNAVAILABLE", "INTERNAL_ERROR", "error_body", "status_desc_exception_handler"]

BODY_TOO_LARGE = "the request body is too large"
BAD_REQUEST = "bad request"


def error_body(desc: str) -> dict:
    return {"Status": "Error", "Desc": desc}


def status_desc_exception_handler(exc, context):
    request = context["request"]
    if isinstance(exc, UnsupportedMediaType):  # DRF's, from the upload's parser negotiation
        exc = unsupported_body(request.content_type.split(";")[0].strip())
    if isinstance(exc, SuspiciousOperation):
        # Django's own request checks: the request is at fault, not the server. Their texts
        # name settings, so the answer says it in our words.
        if isinstance(exc, RequestDataTooBig):
            return Response(error_body(BODY_TOO_LARGE), status=HTTPStatus.REQUEST_ENTITY_TOO_LARGE)
        return Response(error_body(BAD_REQUEST), status=HTTPStatus.BAD_REQUEST)
    response = exception_handler(exc, context)
    if response is not None:
        response.data = error_body(_flatten(response.data))
        return response
    failure = failure_of(exc, where=f"{request.method} {request.path}")
    return Response(error_body(failure.message), status=failure.status_code)


def _flatten(detail) -> str:
    if isinstance(detail, dict):
        if set(detail) == {"detail"}:
            return _flatten(detail["detail"])
        return "; ".join(f"{key}: {_flatten(value)}" for key, value in detail.items())
    if isinstance(detail, list):
        return "; ".join(_flatten(item) for item in detail)
    return str(detail)
