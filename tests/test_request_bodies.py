"""Request bodies as a real WSGI server hands them over: cut short, or chunked.

Goes through gunicorn (sync workers, as in production) with raw sockets:
Django's test client always hands the view the whole body it was given, so a
client that sends fewer bytes than its Content-Length and then closes, or a
body sent with Transfer-Encoding: chunked (no Content-Length at all), can only
be shown against a real server. One worker, so a request answered after
another one means the earlier one is finished with the database.
"""

import json
import socket
import struct
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from monitor.models import Resource
from procs import child_env, closed_port, running, wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

GUNICORN = str(Path(sys.executable).with_name("gunicorn"))
URL = "/monitor/resources/"
LIMIT = 4096  # DATA_UPLOAD_MAX_MEMORY_SIZE of the server under test


def exchange(port: int, head: str, body: bytes, close: str = "write") -> tuple[int, dict, bytes]:
    """Send `head` and `body` as they are, then close for writing (or entirely) and read the answer."""
    with socket.create_connection(("127.0.0.1", port), timeout=20) as sock:
        sock.sendall(head.encode() + body)
        if close == "all":
            return 0, {}, b""
        sock.shutdown(socket.SHUT_WR)
        raw = b""
        while chunk := sock.recv(65536):
            raw += chunk
    header_block, _, payload = raw.partition(b"\r\n\r\n")
    status_line, *lines = header_block.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, v in (line.split(":", 1) for line in lines)}
    if headers.get("transfer-encoding") == "chunked":
        payload = dechunk(payload)
    return int(status_line.split()[1]), headers, payload


def dechunk(data: bytes) -> bytes:
    out = b""
    while True:
        size_line, _, data = data.partition(b"\r\n")
        size = int(size_line.split(b";")[0], 16)
        if size == 0:
            return out
        out, data = out + data[:size], data[size + 2 :]


def request_head(content_type: str, framing: str) -> str:
    return (
        f"POST {URL} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: {content_type}\r\n"
        f"Accept: application/json\r\n{framing}\r\n"
    )


def with_length(content_type: str, declared: int) -> str:
    return request_head(content_type, f"Content-Length: {declared}\r\n")


def chunked_head(content_type: str) -> str:
    return request_head(content_type, "Transfer-Encoding: chunked\r\n")


def get_list(port: int) -> int:
    return exchange(port, f"GET {URL} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", b"")[0]


def chunked(body: bytes, size: int = 1000) -> bytes:
    pieces = [body[i : i + size] for i in range(0, len(body), size)]
    return b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in pieces) + b"0\r\n\r\n"


@pytest.fixture
def server(tmp_path) -> Iterator[int]:
    port = closed_port()
    log = tmp_path / "gunicorn.log"
    env = child_env(tmp_path, DATA_UPLOAD_MAX_MEMORY_SIZE=str(LIMIT), MONITOR_MYSQL_URLS="")
    args = [GUNICORN, "db_django.wsgi", "-b", f"127.0.0.1:{port}", "-w", "1", "-k", "sync", "--timeout", "30"]
    with running(args, env, log) as web:

        def serving() -> bool:
            assert web.poll() is None, log.read_text(errors="replace")[-3000:]
            try:
                return get_list(port) == 200
            except OSError:
                return False

        wait_for(serving, 60, "gunicorn to serve", log)
        yield port


def assert_refused_as_truncated(answer: tuple[int, dict, bytes], got: int, declared: int) -> None:
    status, headers, payload = answer
    assert status == 400, payload[:300]
    assert headers["content-type"] == "application/json"
    assert json.loads(payload) == {"detail": f"Request body truncated: got {got} of {declared} bytes."}


def test_a_form_body_shorter_than_its_content_length_is_refused_and_nothing_is_stored(server):
    whole = b"name=bodies.form&value=12345"
    sent = whole[:-3]  # "value=12": a valid form, the wrong number
    answer = exchange(server, with_length("application/x-www-form-urlencoded", len(whole)), sent)
    assert_refused_as_truncated(answer, len(sent), len(whole))
    assert Resource.objects.count() == 0


def test_a_json_body_shorter_than_its_content_length_is_refused_and_nothing_is_stored(server):
    whole = b'{"name": "bodies.json", "value": 12}\n'
    sent = whole[:-1]  # still valid JSON without its newline
    answer = exchange(server, with_length("application/json", len(whole)), sent)
    assert_refused_as_truncated(answer, len(sent), len(whole))
    assert Resource.objects.count() == 0


def test_a_json_body_cut_mid_value_says_truncated_rather_than_malformed(server):
    whole = b'{"name": "bodies.json", "value": 12345}'
    sent = whole[:20]
    assert_refused_as_truncated(exchange(server, with_length("application/json", len(whole)), sent), 20, len(whole))
    assert Resource.objects.count() == 0


def test_a_bulk_array_shorter_than_its_content_length_is_refused_and_none_is_stored(server):
    items = [{"name": "bodies.bulk", "value": i} for i in range(2)]
    whole = json.dumps(items).encode()
    sent = json.dumps(items[:1]).encode()  # the client lost the second half: a valid one-item array
    answer = exchange(server, with_length("application/json", len(whole)), sent)
    assert_refused_as_truncated(answer, len(sent), len(whole))
    assert Resource.objects.count() == 0


def test_a_client_that_closes_after_a_partial_body_gets_nothing_stored(server):
    whole = b"name=bodies.closed&value=12345"
    exchange(server, with_length("application/x-www-form-urlencoded", len(whole)), whole[:-3], close="all")
    # One sync worker: this answer comes after the cut request is finished with.
    assert get_list(server) == 200
    assert Resource.objects.count() == 0


def test_a_whole_body_is_stored_as_before(server):
    body = b'{"name": "bodies.whole", "value": 12345}'
    status, _, payload = exchange(server, with_length("application/json", len(body)), body)
    assert status == 201, payload[:300]
    assert list(Resource.objects.values_list("name", "value")) == [("bodies.whole", 12345.0)]


def test_a_chunked_json_body_is_read_and_stored(server):
    # One series holds one value per instant: each item names its own.
    items = [{"name": f"bodies.chunked.{i}", "value": i, "host": "agent-1"} for i in range(40)]
    body = json.dumps(items).encode()
    assert 1000 < len(body) <= LIMIT
    status, _, payload = exchange(server, chunked_head("application/json"), chunked(body))
    assert status == 201, payload[:300]
    assert json.loads(payload) == {"created": 40}
    assert sorted(Resource.objects.values_list("value", flat=True)) == [float(i) for i in range(40)]


def test_a_chunked_form_body_is_read_and_stored(server):
    body = b"name=bodies.chunked_form&value=12345"
    head = chunked_head("application/x-www-form-urlencoded")
    status, _, payload = exchange(server, head, chunked(body, size=7))
    assert status == 201, payload[:300]
    assert list(Resource.objects.values_list("name", "value")) == [("bodies.chunked_form", 12345.0)]


def test_a_chunked_body_over_the_upload_limit_gets_413_and_nothing_is_stored(server):
    items = [{"name": "bodies.chunked_big", "value": i} for i in range(200)]
    body = json.dumps(items).encode()
    assert len(body) > LIMIT
    status, headers, payload = exchange(server, chunked_head("application/json"), chunked(body))
    assert status == 413, payload[:300]
    assert headers["content-type"] == "application/json"
    assert json.loads(payload) == {"detail": f"Request body too large: at most {LIMIT} bytes."}
    assert Resource.objects.count() == 0


def test_a_chunked_body_cut_before_its_last_chunk_is_refused_and_nothing_is_stored(server):
    body = json.dumps([{"name": "bodies.chunked_cut", "value": i} for i in range(40)]).encode()
    cut = chunked(body)[:-5]  # no terminating zero-size chunk
    status, _, payload = exchange(server, chunked_head("application/json"), cut)
    assert status == 400, payload[:300]
    assert "chunked" in json.loads(payload)["detail"]
    assert Resource.objects.count() == 0


def test_a_connection_reset_mid_body_stores_nothing_and_the_worker_carries_on(server, tmp_path):
    whole = b"name=bodies.reset&value=12345"
    with socket.create_connection(("127.0.0.1", server), timeout=20) as sock:
        sock.sendall(with_length("application/x-www-form-urlencoded", len(whole)).encode() + whole[:-3])
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # close sends RST
    assert get_list(server) == 200
    assert Resource.objects.count() == 0
    assert "Traceback" not in (tmp_path / "gunicorn.log").read_text(errors="replace")
