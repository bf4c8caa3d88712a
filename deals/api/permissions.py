"""Optional protection of uploads: each one replaces all the data, reads stay open.

When DEALS_UPLOAD_TOKEN is set, POST needs `Authorization: Token <value>`; unset, uploads are
open, as the task's clients expect. Only POST is checked: DealsApi serves GET from the same
view class hierarchy, so both classes look at the method themselves.
"""

import hmac

from django.conf import settings
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.permissions import BasePermission

KEYWORD = "Token"
AUTH_REQUIRED = "uploads need the header 'Authorization: Token <DEALS_UPLOAD_TOKEN>'"
AUTH_MALFORMED = "malformed Authorization header; send 'Authorization: Token <value>'"
AUTH_WRONG = "the upload token is wrong"
PROTECTED_METHODS = frozenset({"POST"})


def _upload_token() -> str:
    # Read at request time, so that a changed setting (or a test override) takes effect.
    return settings.DEALS_UPLOAD_TOKEN


class UploadTokenAuthentication(BaseAuthentication):
    """Checks `Authorization: Token <value>` on uploads against DEALS_UPLOAD_TOKEN."""

    def authenticate(self, request):
        expected = _upload_token()
        if request.method not in PROTECTED_METHODS or not expected:
            return None
        parts = get_authorization_header(request).split()
        if not parts or parts[0].lower() != KEYWORD.lower().encode():
            return None
        if len(parts) != 2:
            raise exceptions.AuthenticationFailed(AUTH_MALFORMED)
        # Constant time: the comparison must not tell how much of a guess was right.
        if not hmac.compare_digest(parts[1], expected.encode()):
            raise exceptions.AuthenticationFailed(AUTH_WRONG)
        return (None, KEYWORD)

    def authenticate_header(self, request):
        return KEYWORD


class UploadTokenRequired(BasePermission):
    """Refuses an upload without a valid token when DEALS_UPLOAD_TOKEN is set."""

    def has_permission(self, request, view):
        if request.method not in PROTECTED_METHODS or not _upload_token():
            return True
        if request.auth is None:
            # 401 with `WWW-Authenticate: Token` (from the authenticator), not DRF's 403.
            raise exceptions.NotAuthenticated(AUTH_REQUIRED)
        return True


class UploadTokenScheme(OpenApiAuthenticationExtension):
    """Describes the upload token in the OpenAPI schema."""

    target_class = UploadTokenAuthentication
    name = "uploadToken"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "`Token <DEALS_UPLOAD_TOKEN>`; needed only when the server sets it.",
        }
