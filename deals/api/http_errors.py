"""Django-level error pages (outside DRF views: the admin, unknown URLs, errors in middleware)
in the same JSON shape as the API's errors.

The 500 handler is called inside Django's `except` block, so `sys.exc_info()` is the exception:
it is classified like every other failure (an unreachable database answers 503, anything else a
500 whose id is also in the log line with the traceback).
"""

import sys
from http import HTTPStatus

from django.http import JsonResponse

from deals.api.exception_handler import BAD_REQUEST, error_body
from deals.failures import failure_of


def _error(desc: str, status: HTTPStatus) -> JsonResponse:
    return JsonResponse(error_body(desc), status=status, json_dumps_params={"ensure_ascii": False})


def bad_request(request, exception=None):
    return _error(BAD_REQUEST, HTTPStatus.BAD_REQUEST)


def permission_denied(request, exception=None):
    return _error("permission denied", HTTPStatus.FORBIDDEN)


def not_found(request, exception=None):
    return _error(f"no such resource: {request.path}", HTTPStatus.NOT_FOUND)


def server_error(request):
    exception = sys.exc_info()[1] or RuntimeError("an error page without an exception")
    failure = failure_of(exception, where=f"{request.method} {request.path}")
    return _error(failure.message, failure.status_code)
