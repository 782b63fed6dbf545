"""The token forms agents send besides `Authorization: Token|Bearer <key>`.

Prometheus' remote_write has `authorization` (Bearer: handled by the API's
TokenAuthentication) and `basic_auth`; InfluxDB v1 clients (Glances, Telegraf's
`outputs.influxdb`) send `u`/`p` query parameters or basic auth. In both, the
password is the API token and the user name is ignored.
"""

import base64
import binascii

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication

from monitor.api.auth import TokenAuthentication, refused


class AgentTokenAuthentication(TokenAuthentication):
    """Token/Bearer header, else basic auth's password, else the `p` query parameter: each an API token."""

    def authenticate(self, request):
        found = super().authenticate(request)
        if found is not None:
            return found
        header = authentication.get_authorization_header(request).split()
        if header and header[0].lower() == b"basic":
            return self.authenticate_key(request, _basic_password(request, header))
        key = request.query_params.get("p")
        if key:
            return self.authenticate_key(request, key)
        return None

    def authenticate_header(self, request) -> str:
        return 'Basic realm="api"'


def _basic_password(request, header: list[bytes]) -> str:
    try:
        decoded = base64.b64decode(header[1], validate=True).decode()
    except (IndexError, binascii.Error, UnicodeDecodeError):
        raise refused(request, "Invalid basic auth header: use the API token as the password.") from None
    return decoded.partition(":")[2]


class AgentTokenAuthenticationScheme(OpenApiAuthenticationExtension):
    """The forms in the OpenAPI schema: the token header, or basic auth with the token as password."""

    target_class = AgentTokenAuthentication
    name = ["agentTokenAuth", "agentBasicAuth"]

    def get_security_definition(self, auto_schema) -> list[dict]:
        return [
            {
                "type": "apiKey",
                "in": "header",
                "name": "Authorization",
                "description": "`Bearer <key>` or `Token <key>`",
            },
            {"type": "http", "scheme": "basic", "description": "any user name, the API token as password"},
        ]
