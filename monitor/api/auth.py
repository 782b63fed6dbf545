"""Who may use the API and the admin: token authentication, the access policy, login lockouts.

Policy (settings.API_REQUIRE_AUTH, on in production, off in the embedded mode):
reads need a token of any scope or the session of an active staff user (an
admin), unless API_PUBLIC_READS; writes need a read-write token (and are
throttled per token: throttling.py). Failed token checks are limited per client
address (API_AUTH_FAILURE_RATE); failed admin logins lock the user out from that
address (django-axes, settings AXES_*), answered by `lockout_response`.
"""

import hashlib
import math
import secrets

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions, permissions

from db_django.env import parse_rate
from monitor.models import ApiToken

from .throttling import client_address, hit
from .token_use import note_use

KEY_PREFIX = "dbm_"
TOKEN_KEYWORDS = ("token", "bearer")


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def issue_token(name: str, scope: str) -> tuple[ApiToken, str]:
    """Create a token; the plain key is returned once and never stored."""
    if scope not in (ApiToken.READ, ApiToken.WRITE):
        raise ValueError(f"scope must be 'read' or 'write', not {scope!r}")
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(name=name, scope=scope, prefix=key[:12], key_hash=hash_key(key))
    return token, key


def token_header(request) -> list[bytes] | None:
    """The words of an `Authorization: Token|Bearer ...` header; None when the request names no token."""
    words = authentication.get_authorization_header(request).split()
    if not words or words[0].decode(errors="replace").lower() not in TOKEN_KEYWORDS:
        return None
    return words


def find_token(key: str) -> ApiToken | None:
    """The live token whose key this is (its use noted), or None."""
    token = ApiToken.objects.filter(key_hash=hash_key(key), revoked_at__isnull=True).first()
    if token is not None:
        note_use(token)  # best-effort and at most once a minute: a read-only database still serves reads
    return token


class TokenUser(AnonymousUser):
    """`request.user` of a token-authenticated request: authenticated, but no Django user.

    Behaves like AnonymousUser everywhere else (not staff, no permissions, no
    pk, cannot be saved), so nothing can mistake a token for an admin.
    """

    def __init__(self, token: ApiToken):
        self.token = token

    @property
    def is_anonymous(self) -> bool:
        return False

    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def username(self) -> str:
        return f"token:{self.token.prefix} ({self.token.name})"

    def __str__(self) -> str:
        return self.username

    def __eq__(self, other) -> bool:
        return isinstance(other, TokenUser) and other.token.pk == self.token.pk

    def __hash__(self) -> int:
        return hash(("token", self.token.pk))


class TokenAuthentication(authentication.BaseAuthentication):
    """`Authorization: Token <key>` (or `Bearer <key>`) -> a TokenUser, and the ApiToken as request.auth.

    With the production policy, failed checks are counted per client address:
    beyond API_AUTH_FAILURE_RATE they answer 429 with Retry-After. A valid
    token is never counted or slowed, whatever its address did before.
    """

    def authenticate(self, request):
        words = token_header(request)
        if words is None:
            return None
        if len(words) != 2:
            raise refused(request, _("Invalid Authorization header: use 'Token <key>'."))
        return self.authenticate_key(request, words[1].decode(errors="replace"))

    def authenticate_key(self, request, key: str) -> tuple[TokenUser, ApiToken]:
        """The token whose key this is, or AuthenticationFailed (counted against the address)."""
        token = find_token(key)
        if token is None:
            raise refused(request, _("Invalid or revoked token."))
        return (TokenUser(token), token)

    def authenticate_header(self, request) -> str:
        # Makes DRF answer 401 (with WWW-Authenticate) rather than 403 to anonymous clients.
        return 'Token realm="api"'


def refused(request, message: str) -> exceptions.APIException:
    """A failed token check: 401, or 429 once this address has failed API_AUTH_FAILURE_RATE times."""
    if settings.API_REQUIRE_AUTH:
        limit, period = parse_rate(settings.API_AUTH_FAILURE_RATE)
        found = hit(f"auth-failure:{client_address(request)}", period)
        if found.count > limit:
            return exceptions.Throttled(
                wait=found.retry_after(),
                detail=_("Too many failed token checks from your address. %(reason)s") % {"reason": message},
            )
    return exceptions.AuthenticationFailed(message)


class ApiAccess(permissions.BasePermission):
    message = gettext_lazy("A read-write API token is required for this request.")

    def has_permission(self, request, view) -> bool:
        if request.method in permissions.SAFE_METHODS:
            return self.may_read(request)
        return self.may_write(request.auth if isinstance(request.auth, ApiToken) else None)

    @staticmethod
    def may_write(token: ApiToken | None) -> bool:
        """The write policy: a read-write token, or anyone while API_REQUIRE_AUTH is off."""
        return not settings.API_REQUIRE_AUTH or (token is not None and token.can_write)

    def may_read(self, request) -> bool:
        """The read policy (also for reads sent as POST, such as the series batch)."""
        if not settings.API_REQUIRE_AUTH:
            return True
        if settings.API_PUBLIC_READS or isinstance(request.auth, ApiToken):
            return True
        # A session reads only while its user is an admin: staff and active
        # (an inactive user's session has no user at all: 401).
        self.message = _("Reading needs a token ('Authorization: Token <key>') or a staff user's session.")
        user = request.user
        return bool(user and user.is_authenticated and user.is_active and user.is_staff)


def lockout_response(
    request: HttpRequest, original_response: HttpResponse | None = None, credentials: dict | None = None
) -> HttpResponse:
    """django-axes' answer to a locked-out login (AXES_LOCKOUT_CALLABLE): 429 saying when to retry.

    Every attempt during the lockout, right password or not, starts the cool-off
    again (axes' AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT), so the wait is
    counted from now.
    """
    seconds = int(settings.AXES_COOLOFF_TIME.total_seconds())
    text = _(
        "Too many failed logins for this user from your address. Try again in %(minutes)d minutes; "
        "each attempt before then restarts the wait. An administrator can unlock it sooner."
    ) % {"minutes": math.ceil(seconds / 60)}
    response = HttpResponse(text, status=429, content_type="text/plain; charset=utf-8")
    response["Retry-After"] = str(seconds)
    return response


class TokenAuthenticationScheme(OpenApiAuthenticationExtension):
    """Describes the token header in the OpenAPI schema (Postman, Swagger UI and generated clients use it).

    As HTTP bearer: converters and client generators send `Authorization: Bearer <key>`
    from the key alone (Postman's `{{bearerToken}}`), which TokenAuthentication accepts
    like `Token <key>`.
    """

    target_class = TokenAuthentication
    name = "tokenAuth"

    def get_security_definition(self, auto_schema) -> dict:
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "`Authorization: Bearer <key>` (or `Token <key>`); keys come from "
            "`manage.py tokens create` or the admin.",
        }
