"""Response bodies: bounded reading and decoding, charset, title, and response heads.

In: raw chunks as they arrive (and their Content-Encoding), or a raw response head. Out: the
decoded bytes (never more than the cap, whatever the compression ratio: a gzip bomb stays
bounded), the body facts an ``HttpStep`` records, or (status, headers). Pure: no sockets.
"""

from __future__ import annotations

import codecs
import contextlib
import hashlib
import re
import zlib
from typing import Any

from netcheck.pagetext import extract_title

_CHARSET = re.compile(rb"""charset\s*=\s*["']?([A-Za-z0-9._:-]+)""", re.I)


class BodyReader:
    """Raw chunks in, capped at ``max_body``; decoded bytes out, capped at ``max_body`` too.

    gzip and deflate are decoded with ``zlib.decompressobj(...).decompress(data, max_length)``
    so the output never outgrows the cap whatever the ratio; other codings are kept raw."""

    def __init__(self, content_encoding: str | None, max_body: int) -> None:
        codings = [c.strip().lower() for c in (content_encoding or "").split(",")]
        codings = [c for c in codings if c and c != "identity"]
        self.coding = codings[0] if len(codings) == 1 else None
        self._dec: Any = None
        if self.coding in ("gzip", "x-gzip"):
            self._dec = zlib.decompressobj(16 + zlib.MAX_WBITS)
        elif self.coding == "deflate":
            self._dec = zlib.decompressobj(zlib.MAX_WBITS)
        self.max_body = max_body
        self.raw_length = 0
        self.data = bytearray()
        self.truncated = False
        self.decode_error = False

    def feed(self, chunk: bytes) -> bool:
        """Take one raw chunk; True when reading should stop (a cap is reached, or bad coding)."""
        room = self.max_body - self.raw_length
        if len(chunk) > room:
            chunk, self.truncated = chunk[:room], True
        self.raw_length += len(chunk)
        if self._dec is None:
            self.data += chunk
        else:
            self._decode(chunk)
        return self.truncated or self.decode_error

    def _decode(self, data: bytes) -> None:
        while data and not self._dec.eof:  # bytes after the end of the stream are ignored
            room = self.max_body - len(self.data)
            if room <= 0:  # (max_length=0 would mean "no limit")
                self.truncated = True
                return
            try:
                self.data += self._dec.decompress(data, room)
            except zlib.error:
                if self.coding == "deflate" and self.raw_length == len(data):
                    # servers often send raw deflate without the zlib header RFC 9110 asks for
                    self.coding, self._dec = "deflate-raw", zlib.decompressobj(-zlib.MAX_WBITS)
                    continue
                self.decode_error = True
                return
            data = self._dec.unconsumed_tail

    def facts(self, headers: list[tuple[str, str]], keep_body: int) -> dict[str, Any]:
        data = bytes(self.data)
        charset = "utf-8"
        content_type = next((v for k, v in headers if k.lower() == "content-type"), "")
        found = _CHARSET.search(content_type.encode("latin-1")) or _CHARSET.search(data[:4096])
        if found:
            # an unknown charset name: read the body as UTF-8 (with replacements) all the same
            with contextlib.suppress(LookupError):
                charset = codecs.lookup(found.group(1).decode("ascii")).name
        title = extract_title(data.decode(charset, errors="replace"))
        return {
            "body_length": len(data),
            "body_truncated": self.truncated,
            "body_sha256": hashlib.sha256(data).hexdigest(),
            "body": data[:keep_body].decode(charset, errors="replace"),
            "title": title,
        }


def parse_head(head: bytes) -> tuple[int, list[tuple[str, str]]]:
    """Status and headers of a response head; ValueError when it is not HTTP/1.x."""
    lines = head.decode("latin-1").split("\r\n")
    version, _, rest = lines[0].partition(" ")
    if not version.startswith("HTTP/1.") or not rest[:3].isdigit():
        raise ValueError(f"not an HTTP status line: {lines[0][:80]!r}")
    headers = []
    for line in lines[1:]:
        if line:
            name, sep, value = line.partition(":")
            if not sep:
                raise ValueError(f"bad header line: {line[:80]!r}")
            headers.append((name.strip(), value.strip()))
    return int(rest[:3]), headers
