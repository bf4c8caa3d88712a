"""The single place that turns errors into the API's {"Status": "Error", "Desc": ...} shape.

What an exception means is decided by `deals.failures.failure_of`, the same for every face:
the input's fault or a refused request (4xx), the database unreachable (503), anything else an
internal error (500) whose id is in the answer and in the log line with the traceback.
"""

from http import HTTPStatus

from django.core.exceptions import DisallowedHost, RequestDataTooBig, SuspiciousOperation
from rest_framework.exceptions import UnsupportedMediaType
from rest_framework.response import Response
from rest_framework.views import exception_handler

from deals.api.parsers import unsupported_body
from deals.errors import DATABASE_UNAVAILABLE, INTERNAL_ERROR, DealsError
from deals.failures import failure_of

__all__ = ["DATABASE_UNAVAILABLE", "INTERNAL_ERROR", "error_body", "status_desc_exception_handler"]

BODY_TOO_LARGE = "the request body is too large"
BAD_REQUEST = "bad request"
HOST_NOT_ALLOWED = "the host named in the Host header is not served here"


def error_body(desc: str) -> dict:
    return {"Status": "Error", "Desc": desc}


def status_desc_exception_handler(exc, context):
    request = context["request"]
    if isinstance(exc, UnsupportedMediaType):  # DRF's, from the upload's parser negotiation
        exc = unsupported_body(request.content_type.split(";")[0].strip())
    if isinstance(exc, SuspiciousOperation):
        desc, status = suspicious_request(exc)
        return Response(error_body(desc), status=status)
    response = exception_handler(exc, context)
    if response is not None:
        response.data = error_body(_flatten(response.data))
        return response
    failure = failure_of(exc, where=f"{request.method} {request.path}")
    return logged_once(Response(error_body(failure.message), status=failure.status_code), failure)


def suspicious_request(exc: SuspiciousOperation) -> tuple[str, HTTPStatus]:
    """Django's own request checks: the request is at fault, not the server. Their texts name
    settings (ALLOWED_HOSTS, DATA_UPLOAD_MAX_MEMORY_SIZE), so the answer says it in our words."""
    if isinstance(exc, RequestDataTooBig):
        return BODY_TOO_LARGE, HTTPStatus.REQUEST_ENTITY_TOO_LARGE
    if isinstance(exc, DisallowedHost):
        return HOST_NOT_ALLOWED, HTTPStatus.BAD_REQUEST
    return BAD_REQUEST, HTTPStatus.BAD_REQUEST


def logged_once(response, failure: DealsError):
    """Mark an answer to a failure that `failure_of` logged (every 5xx: an internal error with its
    id and traceback, an unreachable database), so that Django's request logger does not log it
    again without them. `_has_been_logged` is the flag Django's own `log_response` sets and reads
    for the same purpose."""
    if failure.status_code >= HTTPStatus.INTERNAL_SERVER_ERROR:
        response._has_been_logged = True
    return response


def _flatten(detail) -> str:
    if isinstance(detail, dict):
        if set(detail) == {"detail"}:
            return _flatten(detail["detail"])
        return "; ".join(f"{key}: {_flatten(value)}" for key, value in detail.items())
    if isinstance(detail, list):
        return "; ".join(_flatten(item) for item in detail)
    return str(detail)
