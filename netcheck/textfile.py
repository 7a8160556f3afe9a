"""Reading a user's text file (targets, policy, configs) with one set of limits and errors.

In: a path and what the file is (for the message). Out: its text, or ``InputError`` naming the
file (and the line of the first byte that is not UTF-8). Files over ``MAX_FILE_BYTES`` are
refused before they are read whole.
"""

from __future__ import annotations

from netcheck.errors import InputError

MAX_FILE_BYTES = 4 * 1024 * 1024


def read_text(path: str, what: str, *, max_bytes: int = MAX_FILE_BYTES) -> str:
    try:
        with open(path, "rb") as handle:
            data = handle.read(max_bytes + 1)
    except OSError as exc:
        raise InputError(f"cannot read {what}: {exc.strerror or exc}", file=path) from None
    if len(data) > max_bytes:
        raise InputError(f"{what} larger than {max_bytes // 2**20} MiB", file=path)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise InputError("not UTF-8 text", file=path, line=line) from None
