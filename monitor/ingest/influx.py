"""InfluxDB's error form, `{"code": ..., "message": ...}`: what its clients and Telegraf print on a refusal."""

# InfluxDB's names for the statuses the line protocol endpoints answer.
CODES = {
    400: "invalid",
    401: "unauthorized",
    403: "forbidden",
    405: "method not allowed",
    409: "conflict",
    411: "invalid",
    413: "request too large",
    415: "unsupported",
    429: "too many requests",
    503: "unavailable",
}
# The URL names of the line protocol endpoints (monitor/api/urls.py, db_django/urls.py).
URL_NAMES = frozenset({"line_protocol", "line_protocol_v2"})


def error(status: int, message: str) -> dict:
    return {"code": CODES.get(status, "internal error"), "message": message}
