"""Django-level error pages (outside DRF views) in the same JSON shape as the API's errors."""

from http import HTTPStatus

from django.http import JsonResponse

from deals.api.exception_handler import INTERNAL_ERROR, error_body


def _error(desc: str, status: HTTPStatus) -> JsonResponse:
    return JsonResponse(error_body(desc), status=status, json_dumps_params={"ensure_ascii": False})


def bad_request(request, exception=None):
    return _error("bad request", HTTPStatus.BAD_REQUEST)


def permission_denied(request, exception=None):
    return _error("permission denied", HTTPStatus.FORBIDDEN)


def not_found(request, exception=None):
    return _error(f"no such resource: {request.path}", HTTPStatus.NOT_FOUND)


def server_error(request):
    return _error(INTERNAL_ERROR, HTTPStatus.INTERNAL_SERVER_ERROR)
