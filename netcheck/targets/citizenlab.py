"""A Citizen Lab test list (CSV) as targets: each URL becomes a ``view`` target.

In: the text of a CSV with a header naming at least ``url`` (Citizen Lab's columns are
``url,category_code,category_description,date_added,source,notes``) and a function naming the
service a host belongs to. Out: ``models.Target`` records, or ``errors.InputError`` naming the
file, the line and the field.

A row is one line. A quoted field that does not close on its own line is refused at the line
where it starts: Citizen Lab lists never hold multi-line fields, and an unterminated quote would
otherwise swallow the rows after it into one cell. Rows with more cells than the header are
refused too (an unquoted comma in a note shifts the columns). A header with semicolons and no
comma means the file uses ';' (Excel's "CSV" in Spanish and other locales), and is read so.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from urllib.parse import urlsplit

from netcheck.errors import InputError
from netcheck.target import Target
from netcheck.targets.files import MAX_TARGETS, odd_character, url_problem
from netcheck.textfile import csv_delimiter, csv_rows

MAX_CATEGORY_CHARS = 64  # a code such as GRP or MMED
CSV_COLUMNS = ("url", "category_code", "category_description", "date_added", "source", "notes")


def looks_like_csv(text: str) -> bool:
    """Whether the first non-blank line is a CSV header with a ``url`` column."""
    first = _first_line(text)
    cells = [cell.strip().strip('"').lower() for cell in first.split(csv_delimiter(first))]
    return len(cells) > 1 and "url" in cells


def _first_line(text: str) -> str:
    return next((line for line in text.splitlines() if line.strip()), "")


def parse_csv(text: str, file: str, service_for_host: Callable[[str], str]) -> list[Target]:
    # Excel saves "CSV" with ';' where the decimal mark is a comma (Spanish, French...)
    delimiter = csv_delimiter(_first_line(text))
    rows = csv_rows(io.StringIO(text, newline=""), file, delimiter=delimiter)
    # the header is the first line with something on it (blank lines before it are skipped)
    first = next((row for row in rows if any(cell.strip() for cell in row[1])), None)
    if first is None:
        raise InputError("no targets: the file is empty", file=file)
    header_line, header = first
    columns = [name.strip().lower() for name in header]
    if "url" not in columns:
        raise InputError(
            f"no 'url' column; a Citizen Lab test list has: {','.join(CSV_COLUMNS)}",
            file=file,
            line=header_line,
            field="url",
        )
    twice = next((name for i, name in enumerate(columns) if name and name in columns[:i]), None)
    if twice is not None:
        message = "the column is named twice in the header: which one holds the value?"
        raise InputError(message, file=file, line=header_line, field=twice)
    url_at = columns.index("url")
    category_at = columns.index("category_code") if "category_code" in columns else None
    targets: list[Target] = []
    for line, row in rows:
        if not any(cell.strip() for cell in row):
            continue
        if len(row) > len(columns):
            separator = "comma" if delimiter == "," else "semicolon"
            raise InputError(
                f"{len(row)} cells for {len(columns)} columns: a {separator} outside quotes?",
                file=file,
                line=line,
            )
        url = row[url_at].strip() if url_at < len(row) else ""
        problem = url_problem(url) if url else "missing url"
        if problem is not None:
            raise InputError(problem, file=file, line=line, field="url")
        if len(targets) >= MAX_TARGETS:
            raise InputError(f"too many targets (> {MAX_TARGETS})", file=file, line=line)
        category = ""
        if category_at is not None and category_at < len(row):
            category = row[category_at].strip().upper()
            if len(category) > MAX_CATEGORY_CHARS:
                message = f"longer than {MAX_CATEGORY_CHARS} characters"
                raise InputError(message, file=file, line=line, field=columns[category_at])
            odd = odd_character(category)
            if odd is not None:
                message = f"{odd}: {category[:60]!r}"
                raise InputError(message, file=file, line=line, field=columns[category_at])
        targets.append(
            Target(
                url=url,
                service=service_for_host(urlsplit(url).hostname or ""),
                function="view",
                category=category or None,
                hosts_note=None,
            )
        )
    if not targets:
        raise InputError("no targets: the CSV has no rows", file=file)
    return targets
