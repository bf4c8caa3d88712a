"""Django-level error pages (outside DRF views: the admin, unknown URLs, errors in middleware)
in the same JSON shape as the API's errors.

The 500 handler is called inside Django's `except` block, so `sys.exc_info()` is the exception:
it is classified like every other failure (an unreachable database answers 503, anything else a
500 whose id is also in the log line with the traceback).

With DEBUG on, Django answers its 404 and 500 with its own HTML debug pages instead (these
handlers are not called); the API's views still answer JSON.
"""

import sys
from http import HTTPStatus

from django.core.exceptions import SuspiciousOperation
from django.http import JsonResponse

from deals.api.exception_handler import BAD_REQUEST, error_body, logged_once, suspicious_request
from deals.failures import failure_of


def _error(desc: str, status: HTTPStatus) -> JsonResponse:
    return JsonResponse(error_body(desc), status=status, json_dumps_params={"ensure_ascii": False})


def bad_request(request, exception=None):
    if isinstance(exception, SuspiciousOperation):  # a disallowed host, a body too large, ...
        return _error(*suspicious_request(exception))
    return _error(BAD_REQUEST, HTTPStatus.BAD_REQUEST)


def permission_denied(request, exception=None):
    return _error("permission denied", HTTPStatus.FORBIDDEN)


def not_found(request, exception=None):
    return _error(f"no such resource: {request.path}", HTTPStatus.NOT_FOUND)


def server_error(request):
    exception = sys.exc_info()[1] or RuntimeError("an error page without an exception")
    failure = failure_of(exception, where=f"{request.method} {request.path}")
    return logged_once(_error(failure.message, failure.status_code), failure)


def csrf_failure(request, reason=""):
    """CSRF_FAILURE_VIEW: the admin's forms refused (no CSRF cookie, a foreign Origin, ...)."""
    return _error(f"CSRF verification failed: {reason.rstrip('.')}", HTTPStatus.FORBIDDEN)


class JsonErrorsMiddleware:
    """Error answers made without a body, in the same shape: Django's 405 for a method a view
    does not take (`GET /admin/logout/`), whitenoise's for a `POST` to a static file.

    Only empty ones: an error page that says something (the API's, the handlers above, the API
    docs' HTML) is left as it is. Headers (`Allow`) and cookies are kept.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if response.status_code < HTTPStatus.BAD_REQUEST or not _bodiless(response):
            return response
        status = HTTPStatus(response.status_code)
        desc = (
            f'Method "{request.method}" not allowed.'  # DRF's words for the API's own 405
            if status == HTTPStatus.METHOD_NOT_ALLOWED
            else status.phrase.lower()
        )
        answer = _error(desc, status)
        for header, value in response.items():
            if header.lower() not in {"content-type", "content-length"}:
                answer[header] = value
        answer.cookies = response.cookies
        return answer


def _bodiless(response) -> bool:
    # whitenoise streams its errors: an empty file response, without a Content-Type.
    if response.streaming:
        return not response.has_header("Content-Type")
    return not response.content
