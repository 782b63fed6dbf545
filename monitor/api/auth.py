"""Who may use the API: token authentication and the access policy.

Policy (settings.API_REQUIRE_AUTH, on in production, off in the embedded mode):
reads need a token of any scope or a logged-in session, unless API_PUBLIC_READS;
writes need a read-write token (and are throttled per token: throttling.py).
"""

import hashlib
import secrets

from django.conf import settings
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions, permissions

from monitor.models import ApiToken

from .token_use import note_use

KEY_PREFIX = "dbm_"


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def issue_token(name: str, scope: str) -> tuple[ApiToken, str]:
    """Create a token; the plain key is returned once and never stored."""
    if scope not in (ApiToken.READ, ApiToken.WRITE):
        raise ValueError(f"scope must be 'read' or 'write', not {scope!r}")
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(name=name, scope=scope, prefix=key[:12], key_hash=hash_key(key))
    return token, key


class TokenAuthentication(authentication.BaseAuthentication):
    """`Authorization: Token <key>` (or `Bearer <key>`) -> the ApiToken as request.auth."""

    keywords = ("token", "bearer")

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].decode(errors="replace").lower() not in self.keywords:
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed("Invalid Authorization header: use 'Token <key>'.")
        key = header[1].decode(errors="replace")
        token = ApiToken.objects.filter(key_hash=hash_key(key), revoked_at__isnull=True).first()
        if token is None:
            raise exceptions.AuthenticationFailed("Invalid or revoked token.")
        note_use(token)  # best-effort and at most once a minute: a read-only database still serves reads
        return (None, token)

    def authenticate_header(self, request) -> str:
        # Makes DRF answer 401 (with WWW-Authenticate) rather than 403 to anonymous clients.
        return 'Token realm="api"'


class ApiAccess(permissions.BasePermission):
    message = "A read-write API token is required for this request."

    def has_permission(self, request, view) -> bool:
        if not settings.API_REQUIRE_AUTH:
            return True
        token = request.auth if isinstance(request.auth, ApiToken) else None
        if request.method in permissions.SAFE_METHODS:
            if settings.API_PUBLIC_READS or token is not None:
                return True
            self.message = "Authentication required: send 'Authorization: Token <key>' or log in."
            return bool(request.user and request.user.is_authenticated)
        return token is not None and token.can_write


class TokenAuthenticationScheme(OpenApiAuthenticationExtension):
    """Describes the token header in the OpenAPI schema (Postman and Swagger UI use it)."""

    target_class = TokenAuthentication
    name = "tokenAuth"

    def get_security_definition(self, auto_schema) -> dict:
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "`Token <key>`; keys come from `manage.py tokens create` or the admin.",
        }
