"""Hostile and malformed fingerprints files (YAML, OONI CSV): refused at the line and key they go
wrong, by the loader and through `classify --fingerprints` (issue 12)."""

from __future__ import annotations

from pathlib import Path

import pytest

from netcheck.classify.fingerprints import load_fingerprint_file
from netcheck.errors import InputError
from tests.cli.test_cli import netcheck  # the command in a subprocess, proxy variables unset
from tests.targets.support import FP_YAML, OONI, RESULTS, one_line


@pytest.mark.parametrize(
    ("text", "line", "field", "words"),
    [
        (FP_YAML.format(match="contains", pattern="p") + "    pattern: q\n", 7, "pattern", "dup"),
        (FP_YAML.format(match="contains", pattern="p") + "    kindd: x\n", 7, "kindd", "unknown"),
        ("version: 9\n" + FP_YAML.format(match="contains", pattern="p"), 1, "version", "unknown"),
        (FP_YAML.format(match="contains", pattern="p") + "    ? [a]\n    : b\n", 7, None, "keys"),
        (FP_YAML.format(match="contains", pattern='"a\\0b"'), 6, "pattern", "U+0000"),
        (FP_YAML.format(match="contains", pattern="!!binary aGk="), 6, "pattern", "binary"),
        (FP_YAML.format(match="regex", pattern='".*"'), 6, "pattern", "matches empty text"),
        (FP_YAML.format(match="regex", pattern='"(a|b){1000}x"'), 6, "pattern", "costly"),
    ],
)
def test_fingerprints_yaml_is_refused_at_the_line_of_the_key(
    tmp_path: Path, text: str, line: int, field: str | None, words: str
) -> None:
    """Before: a duplicate or misspelt key was silently dropped, a list as a key gave a
    four-line message, an escaped NUL passed, and a regex matching empty text made every page
    of `classify` a block page (exit 1)."""
    path = tmp_path / "fp.yaml"
    path.write_text(text)
    with pytest.raises(InputError) as caught:
        load_fingerprint_file(str(path))
    assert caught.value.line == line
    assert field is None or (caught.value.field or "").endswith(field)
    assert words in caught.value.message
    proc = netcheck("classify", str(RESULTS), "--fingerprints", "fp.yaml", cwd=tmp_path)
    one_line(proc, f"fp.yaml:{line}:")


def test_a_file_of_costly_regexes_is_refused_at_the_first_over_budget(tmp_path: Path) -> None:
    """Each of these is small, but RE2 cannot keep them in its DFA: about 60 ms per page each,
    so a thousand made `classify` run for minutes per record."""
    rows = "".join(f"p{i},prod,body,regexp,(a|b)*a(a|b){{160}}x{i},,\n" for i in range(1000))
    path = tmp_path / "fp.csv"
    path.write_text(OONI + rows)
    with pytest.raises(InputError) as caught:
        load_fingerprint_file(str(path))
    assert caught.value.line is not None
    assert caught.value.line < 30
    assert "too costly" in caught.value.message


def test_an_ooni_csv_with_cr_line_ends_loads_and_names_lines(tmp_path: Path) -> None:
    path = tmp_path / "fp.csv"
    rows = "prs_a,prod,body,contains,abc,,\rprs_b,prod,nowhere,contains,abc,,\r"
    path.write_text(OONI.replace("\n", "\r") + rows, newline="")
    with pytest.raises(InputError) as caught:
        load_fingerprint_file(str(path))
    assert (caught.value.line, caught.value.field) == (3, "location_found")


def test_aliases_cannot_multiply_the_patterns(tmp_path: Path) -> None:
    entry = "{id: a, vendor: v, scope: body, match: contains, pattern: " + "x" * 4000 + "}"
    path = tmp_path / "fp.yaml"
    path.write_text(f"fingerprints:\n  - &e {entry}\n" + "  - *e\n" * 9_999)
    with pytest.raises(InputError) as caught:
        load_fingerprint_file(str(path))
    assert "aliases" in caught.value.message
