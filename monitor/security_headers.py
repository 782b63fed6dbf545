"""Security headers on every answer Django makes: a Content-Security-Policy, and no-store for the API.

A small middleware rather than django-csp: the policy here is two fixed strings
chosen by the answer's content type (HTML pages get one that lets them load
their own assets, everything else gets one that allows nothing), no page needs
a per-request nonce (Swagger UI loads its init script from /monitor/docs/?script
instead of inlining it), and django-csp would still need a subclass to choose a
policy by content type.
"""

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.utils.cache import patch_cache_control

# HTML: the admin, the browsable API and Swagger UI load scripts, styles, fonts
# and images from this origin only (/static/, drf-spectacular-sidecar's copy of
# Swagger UI), and fetch from it (the schema, "Try it out"). No inline script
# and no eval may run. Inline styles are allowed: the browsable API, the admin
# and Swagger UI put style attributes and <style> blocks in their markup, and a
# style cannot run code. Images and fonts as data: URLs: Swagger UI's CSS has its icons so.
HTML_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "font-src 'self' data:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
# JSON and everything else: a document that is data loads nothing and runs nothing,
# even when a browser is tricked into rendering it.
DATA_POLICY = "default-src 'none'; frame-ancestors 'none'"
API_PREFIX = "/monitor/"


def content_security_policy(response: HttpResponse) -> str:
    """The policy for this answer, by its content type."""
    content_type = response.get("Content-Type", "").split(";")[0].strip().lower()
    return HTML_POLICY if content_type in ("text/html", "application/xhtml+xml") else DATA_POLICY


class SecurityHeaders:
    """Middleware: CSP on every answer; `Cache-Control: no-store` on every API answer.

    API answers (under /monitor/) are live figures, often read with a token or a
    session: neither a shared cache nor the browser's disk may keep them. That
    includes health, whose answer is only true the moment it is made. An answer
    that already carries a CSP keeps it.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if "Content-Security-Policy" not in response:
            response["Content-Security-Policy"] = content_security_policy(response)
        if request.path.startswith(API_PREFIX):
            patch_cache_control(response, no_store=True)
        return response
