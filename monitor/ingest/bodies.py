"""Compressed request bodies opened within a bound: a small body must not unpack into gigabytes.

The body as sent is already bounded by DATA_UPLOAD_MAX_MEMORY_SIZE
(monitor/api/bodies.py); what it unpacks to is bounded by INGEST_MAX_BYTES.
"""

import zlib

import cramjam


class BodyError(ValueError):
    """A body that cannot be read: `status` 400 (malformed) or 413 (too large)."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


def snappy_block(data: bytes, limit: int) -> bytes:
    """Snappy's block format (what remote write sends), refusing one that announces more than `limit` bytes."""
    size = _announced_size(data)
    if size > limit:
        raise BodyError(413, f"Body unpacks to {size} bytes; the limit is {limit} (INGEST_MAX_BYTES).")
    try:
        return bytes(cramjam.snappy.decompress_raw(data))
    except cramjam.DecompressionError as exc:
        raise BodyError(400, f"Body is not snappy-compressed (block format): {exc}") from None


def _announced_size(data: bytes) -> int:
    """The uncompressed length a snappy block starts with (a little-endian base-128 varint)."""
    size = shift = 0
    for index, byte in enumerate(data[:5]):
        size |= (byte & 0x7F) << shift
        if byte < 0x80:
            return size
        shift += 7
        if index == 4:
            break
    raise BodyError(400, "Body is not snappy-compressed: no valid length header.")


def gunzip(data: bytes, limit: int) -> bytes:
    """A gzip body (Telegraf's default content_encoding), read up to `limit` bytes.

    Every member of it: a gzip file may be several compressed streams one after
    the other (RFC 1952, 2.2), and readers such as InfluxDB's read them all.
    """
    out = b""
    rest = data
    while True:
        inflater = zlib.decompressobj(wbits=31)
        try:
            out += inflater.decompress(rest, limit + 1 - len(out))
        except zlib.error as exc:
            raise BodyError(400, f"Body is not valid gzip: {exc}") from None
        if len(out) > limit:
            raise BodyError(413, f"Body unpacks to more than {limit} bytes (INGEST_MAX_BYTES).")
        if not inflater.eof:
            raise BodyError(400, "Body is not valid gzip: it ends before the compressed stream does.")
        rest = inflater.unused_data
        if not rest:
            return out


def opened(data: bytes, encoding: str, limit: int) -> bytes:
    """The body after its Content-Encoding (identity or gzip), within `limit` bytes."""
    encoding = encoding.strip().lower()
    if encoding in ("", "identity"):
        if len(data) > limit:
            raise BodyError(413, f"Body has {len(data)} bytes; the limit is {limit} (INGEST_MAX_BYTES).")
        return data
    if encoding in ("gzip", "x-gzip"):
        return gunzip(data, limit)
    raise BodyError(415, f"Content-Encoding {encoding!r} is not supported: send identity or gzip.")
