"""Reading a user's text file (targets, policy, configs, fingerprints) with one set of limits.

In: a path and what the file is (for the message). Out: its text (``read_text``), its lines one
at a time (``read_lines``, bounded memory), or a YAML node tree (``compose_yaml``); else
``InputError`` naming the file, the line and what is wrong. The limits:

- size: ``MAX_FILE_BYTES`` unless the reader asks for another cap; a file over it is refused
  from its size before it is read, and never more than the cap plus one byte is read (a file
  that grows, or a pipe, cannot make us hold more);
- encoding: UTF-8 (a leading byte-order mark is dropped); the first byte that is not UTF-8 is
  named by its line;
- binary data: a NUL byte or another control character than tab, line and page breaks means
  the file is not text (a zip, a database, a Parquet file passed by mistake), named by line;
- empty input: ``allow_empty=False`` refuses a file with nothing but white space;
- CSV (``csv_rows``): one row per line, so a quote left open is named at the line where it
  starts instead of swallowing the rows after it;
- YAML nesting: deeper than ``MAX_YAML_DEPTH`` is refused at the line where it goes too deep,
  before Python's recursion limit could turn it into a crash.
"""

from __future__ import annotations

import csv
import functools
import os
import re
import stat
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from netcheck.errors import InputError

if TYPE_CHECKING:
    import yaml

MAX_FILE_BYTES = 4 * 1024 * 1024
MAX_LINE_CHARS = 64 * 1024
MAX_YAML_DEPTH = 64
# values (scalars, lists, mappings) in one YAML document: a 4 MiB file of one-character flow
# items holds ~2 million, which PyYAML's composer needs ~8 s to build; 300,000 take ~1 s and are
# far more than any reader's own count caps need (20,000 targets, 10,000 fingerprints)
MAX_YAML_NODES = 300_000
# C0 controls that text files do not hold: everything below space but tab, LF, VT, FF, CR
_BINARY = re.compile("[\x00-\x08\x0e-\x1f]")
_BINARY_BYTES = re.compile(b"[\x00-\x08\x0e-\x1f]")


def read_text(
    path: str, what: str, *, max_bytes: int = MAX_FILE_BYTES, allow_empty: bool = True
) -> str:
    """The whole file as text, checked as described in the module docstring."""
    data = _read_capped(path, what, max_bytes)
    _refuse_utf16(data, path, what)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise InputError(_NOT_UTF8.format(what=what), file=path, line=line) from None
    found = _BINARY.search(text)
    if found is not None:
        line = text.count("\n", 0, found.start()) + 1
        raise InputError(_binary_message(what, found.group()), file=path, line=line)
    if not allow_empty and not text.strip():
        raise InputError(f"{what} is empty", file=path)
    return text


def read_lines(
    path: str,
    what: str,
    *,
    max_bytes: int = MAX_FILE_BYTES,
    max_line: int = MAX_LINE_CHARS,
) -> Iterator[str]:
    """The file's lines (with their line ending), read one at a time: memory stays within
    ``max_line``. Stops with ``InputError`` at the first line that is too long, not UTF-8, or
    binary, and at ``max_bytes`` read in all."""
    handle = _open(path, what, max_bytes)
    with handle:
        total = 0
        number = 0
        while True:
            raw = handle.readline(max_line + 1)
            if not raw:
                break
            number += 1
            if number == 1:
                _refuse_utf16(raw, path, what)
            total += len(raw)
            if total > max_bytes:
                raise InputError(f"{what} larger than {_size(max_bytes)}", file=path, line=number)
            if len(raw) > max_line and not raw.endswith(b"\n"):
                raise InputError(f"line longer than {max_line} bytes", file=path, line=number)
            found = _BINARY_BYTES.search(raw)
            if found is not None:
                message = _binary_message(what, found.group().decode("ascii"))
                raise InputError(message, file=path, line=number)
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError:
                raise InputError(_NOT_UTF8.format(what=what), file=path, line=number) from None
            yield line.removeprefix("\ufeff") if number == 1 else line


def compose_yaml(
    text: str,
    file: str,
    *,
    max_depth: int = MAX_YAML_DEPTH,
    max_nodes: int = MAX_YAML_NODES,
) -> yaml.Node | None:
    """The YAML document as a node tree (each node knows its line), or ``InputError`` naming
    the line of the first syntax error, of the node nested deeper than ``max_depth`` or of the
    value past ``max_nodes`` (counted as they are built, so a huge flat list stops early).

    libyaml scans and parses (in C, about nine times faster than PyYAML's pure-Python parser,
    and without recursion: it keeps its own stacks), PyYAML's Python composer builds the nodes
    from its events, here with a depth cap, so neither can reach Python's recursion limit.
    Without libyaml, PyYAML's pure-Python parser does the same, slower."""
    import yaml

    class Loader(_composer_base()):  # type: ignore[misc]
        depth = 0
        nodes = 0

        def compose_node(self, parent: Any, index: Any) -> Any:
            self.depth += 1
            self.nodes += 1
            if self.depth > max_depth or self.nodes > max_nodes:
                mark = self.peek_event().start_mark
                problem = (
                    f"nested deeper than {max_depth} levels"
                    if self.depth > max_depth
                    else f"more than {max_nodes:,} values in one file: split it"
                )
                raise InputError(problem, file=file, line=mark.line + 1)
            try:
                return super().compose_node(parent, index)
            finally:
                self.depth -= 1

    try:
        node: yaml.Node | None = yaml.compose(text, Loader=Loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        # an error at end of stream sits on the line after the last newline: name the last line
        last = max(1, len(text.splitlines()))
        line = min(mark.line + 1, last) if mark is not None else None
        problem = exc.problem or exc.context or "syntax error"
        if line is not None and _tab_indented(text, line):
            message = "invalid YAML: a tab indents this line; YAML indents with spaces only"
            raise InputError(message, file=file, line=line) from None
        if "maximum nesting depth" in problem:  # libyaml's own cap (1000) is past ours
            raise InputError(
                f"nested deeper than {max_depth} levels", file=file, line=line
            ) from None
        raise InputError(f"invalid YAML: {problem}", file=file, line=line) from None
    except yaml.reader.ReaderError as exc:
        # the first such character is where reading stopped (libyaml's position counts bytes)
        at = text.find(chr(exc.character)) if isinstance(exc.character, int) else -1
        line = text.count("\n", 0, at if at >= 0 else max(exc.position, 0)) + 1
        raise InputError(
            f"invalid YAML: {exc.reason} {exc.character!r}", file=file, line=line
        ) from None
    except UnicodeEncodeError as exc:  # a lone surrogate: libyaml reads UTF-8
        line = text.count("\n", 0, exc.start) + 1
        raise InputError("invalid YAML: not Unicode text", file=file, line=line) from None
    except yaml.YAMLError as exc:
        raise InputError(f"invalid YAML: {exc}", file=file) from None
    except RecursionError:  # a long chain inside one node (the cap above counts nodes)
        raise InputError("invalid YAML: nested too deeply", file=file) from None
    return node


def _tab_indented(text: str, line: int) -> bool:
    """Whether line ``line`` (1-based) of ``text`` has a tab in its leading blanks."""
    lines = text.splitlines()
    if not 1 <= line <= len(lines):
        return False
    row = lines[line - 1]
    return "\t" in row[: len(row) - len(row.lstrip(" \t"))]


@functools.cache
def _composer_base() -> type:
    """A loader whose events come from libyaml (when PyYAML has it) and whose nodes are made
    by PyYAML's Python composer (``compose_node`` can be capped in a subclass)."""
    import yaml
    from yaml.composer import Composer
    from yaml.constructor import SafeConstructor
    from yaml.resolver import Resolver

    try:
        from yaml._yaml import CParser
    except ImportError:  # PyYAML built without libyaml
        return yaml.SafeLoader

    class EventsInC(Composer, CParser, SafeConstructor, Resolver):
        # the Python Composer comes first, so its get_single_node/compose_node (not CParser's
        # own composer, in C) build the nodes from CParser's events
        def __init__(self, stream: str) -> None:
            CParser.__init__(self, stream)
            SafeConstructor.__init__(self)
            Resolver.__init__(self)
            Composer.__init__(self)

    return EventsInC


def csv_delimiter(header: str) -> str:
    """The separator of a CSV whose header line is ``header``: ``;`` when the header has
    semicolons and no comma (Excel's "CSV" in locales whose decimal mark is a comma, such as
    Spanish), else ``,``."""
    return ";" if ";" in header and "," not in header else ","


def csv_rows(
    lines: Iterable[str], file: str, *, delimiter: str = ","
) -> Iterator[tuple[int, list[str]]]:
    """(line where the row starts, cells) of a CSV whose rows are one line each; a quoted
    field that runs past its line, or never closes, is refused at the line where it starts.
    Blanks at the end of a line are dropped (after a closing quote the csv module would
    refuse them; the readers strip cells anyway)."""
    reader = csv.reader(_rstripped(lines), strict=True, delimiter=delimiter)
    start = 1
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            message = f"invalid CSV: {exc}"
            if "unexpected end of data" in str(exc):  # strict mode at the end of the file
                message = "a quoted field is never closed: unterminated quote"
            raise InputError(message, file=file, line=start) from None
        if reader.line_num > start:
            raise InputError(
                "a quoted field runs past the end of its line: unterminated quote?",
                file=file,
                line=start,
            )
        yield start, row
        start = reader.line_num + 1


# --- helpers -------------------------------------------------------------------------------------


def _rstripped(lines: Iterable[str]) -> Iterator[str]:
    for line in lines:
        body = line.rstrip("\r\n")
        yield body.rstrip(" \t") + line[len(body) :]


_NONBLOCK = getattr(os, "O_NONBLOCK", 0)  # POSIX; Windows has no FIFOs to wait on


def _open(path: str, what: str, max_bytes: int) -> Any:
    """``path`` opened for reading, if it is a file: a FIFO or a terminal would make the
    reader wait for ever for a writer, a device (``/dev/zero``) never ends; opened without
    blocking so that even a FIFO with no writer answers at once, then checked."""
    try:
        fd = os.open(path, os.O_RDONLY | _NONBLOCK | getattr(os, "O_BINARY", 0))
    except OSError as exc:
        raise InputError(f"cannot read {what}: {exc.strerror or exc}", file=path) from None
    try:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            raise InputError(f"cannot read {what}: it is a folder", file=path)
        if not stat.S_ISREG(info.st_mode):
            raise InputError(
                f"cannot read {what}: not a regular file (a pipe, socket or device)", file=path
            )
        if info.st_size > max_bytes:
            raise InputError(f"{what} larger than {_size(max_bytes)}", file=path)
        if _NONBLOCK:
            os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def _read_capped(path: str, what: str, max_bytes: int) -> bytes:
    handle = _open(path, what, max_bytes)
    with handle:
        try:
            data: bytes = handle.read(max_bytes + 1)
        except OSError as exc:  # a folder opens on Linux but does not read
            raise InputError(f"cannot read {what}: {exc.strerror or exc}", file=path) from None
    if len(data) > max_bytes:
        raise InputError(f"{what} larger than {_size(max_bytes)}", file=path)
    return data


_NOT_UTF8 = "{what} is not UTF-8 text"


def _refuse_utf16(start: bytes, path: str, what: str) -> None:
    """Notepad's and Excel's "Unicode" is UTF-16 with a byte-order mark: say so at line 1
    (the bytes would otherwise read as 'not UTF-8', or as a NUL byte). Text is taken to be
    UTF-16 when the mark is followed by a character whose other byte is zero (ASCII text)."""
    little = start[:2] == b"\xff\xfe" and start[2:3] != b"\x00" and start[3:4] == b"\x00"
    big = start[:2] == b"\xfe\xff" and start[2:3] == b"\x00" and start[3:4] not in (b"", b"\x00")
    if little or big:
        message = f'{what} is UTF-16 text (what Windows calls "Unicode"): save it as UTF-8'
        raise InputError(message, file=path, line=1)


def _size(n: int) -> str:
    return f"{n // 2**20} MiB" if n >= 2**20 else f"{n // 1024} KiB"


def _binary_message(what: str, char: str) -> str:
    name = "a NUL byte" if char == "\x00" else f"control character {char!r}"
    return f"{what} holds {name}: binary data, not text"
