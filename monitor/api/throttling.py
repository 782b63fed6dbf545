"""How often a client may write: API_WRITE_RATE per token."""

from django.conf import settings
from rest_framework import permissions, throttling

from monitor.models import ApiToken


class TokenWriteThrottle(throttling.SimpleRateThrottle):
    """At most API_WRITE_RATE writes per token (per client address without one)."""

    scope = "write"

    def allow_request(self, request, view) -> bool:
        if request.method in permissions.SAFE_METHODS or not settings.API_REQUIRE_AUTH:
            return True
        return super().allow_request(request, view)

    def get_cache_key(self, request, view) -> str:
        ident = f"token-{request.auth.pk}" if isinstance(request.auth, ApiToken) else self.get_ident(request)
        return self.cache_format % {"scope": self.scope, "ident": ident}
