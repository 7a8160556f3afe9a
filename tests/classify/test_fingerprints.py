"""Users' fingerprints files: what is refused, where, and what a hostile file cannot cost.

Pure tests on files written to tmp_path. The shipped set and matching are covered in
test_blockpage.py; here only the reader's limits and its errors (file, line, field).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from netcheck.classify import fingerprints
from netcheck.classify.blockpage import match_http
from netcheck.classify.fingerprints import load_fingerprint_file, load_fingerprints
from netcheck.errors import InputError

HEADER = (
    "name,scope,other_names,location_found,pattern_type,pattern,confidence_no_fp,"
    "expected_countries,source,exp_url,notes\n"
)
ROW = "prs_acme,prod,,body,contains,ACME NetGuard,true,,,,\n"


def _located(path: Path) -> InputError:
    with pytest.raises(InputError) as err:
        load_fingerprint_file(str(path))
    assert err.value.file == str(path)
    assert "\n" not in str(err.value)
    return err.value


def test_a_huge_field_is_refused_naming_its_line(tmp_path: Path) -> None:
    path = tmp_path / "fp.csv"
    path.write_text(HEADER + ROW + f"prs_big,prod,,body,contains,{'x' * 200_000},true,,,,\n")
    err = _located(path)
    assert err.line == 3
    assert "longer than" in err.message


def test_a_file_over_the_cap_is_refused_before_reading(tmp_path: Path) -> None:
    path = tmp_path / "fp.csv"
    with path.open("wb") as fh:  # sparse: 50 MB on paper, nothing on disk
        fh.write(HEADER.encode())
        fh.truncate(50 * 2**20)
    err = _located(path)
    assert err.line is None
    assert "larger than 4 MiB" in err.message


def test_too_many_entries_are_refused_at_the_first_extra_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(fingerprints, "MAX_FINGERPRINTS", 3)
    path = tmp_path / "fp.csv"
    path.write_text(HEADER + ROW * 4)
    assert _located(path).line == 5


@pytest.mark.parametrize(
    ("body", "line", "words"),
    [
        # an unterminated quote would otherwise swallow every row after it into one pattern
        (ROW + 'prs_q,prod,,body,contains,"open quote,true,,,,\n' + ROW, 3, "unterminated"),
        (ROW + "prs_n,prod,,body,contains,a\x00b,true,,,,\n", 3, "NUL"),
        (ROW + ROW.replace("ACME", "AC\x07ME"), 3, "binary"),
    ],
)
def test_not_text_or_broken_csv_is_named_at_its_line(
    tmp_path: Path, body: str, line: int, words: str
) -> None:
    path = tmp_path / "fp.csv"
    path.write_text(HEADER + body)
    err = _located(path)
    assert err.line == line
    assert words in str(err)


def test_invalid_utf8_is_named_at_its_line(tmp_path: Path) -> None:
    path = tmp_path / "fp.csv"
    path.write_bytes(HEADER.encode() + ROW.encode() + b"prs_x,prod,,body,contains,\xff,,,,,\n")
    err = _located(path)
    assert err.line == 3
    assert "UTF-8" in err.message


@pytest.mark.parametrize(
    ("name", "text", "words"),
    [
        ("empty.csv", "", "empty"),
        ("header.csv", HEADER, "no fingerprints"),
        ("only-fp.csv", HEADER + "cf,fp,,body,contains,cf-ray,,,,,\n", "no fingerprints"),
        ("empty.yaml", "\n\n", "empty"),
        ("list.yaml", "fingerprints: []\n", "no fingerprints"),
        ("scalar.yaml", "just words\n", "expected a mapping"),
    ],
)
def test_empty_input_says_so(tmp_path: Path, name: str, text: str, words: str) -> None:
    path = tmp_path / name
    path.write_text(text)
    assert words in _located(path).message


def test_deep_yaml_is_an_input_error_not_a_recursion_error(tmp_path: Path) -> None:
    path = tmp_path / "fp.yaml"
    path.write_text("fingerprints:\n  - " + "[" * 50_000 + "]" * 50_000 + "\n")
    err = _located(path)
    assert err.line == 2
    assert "nested deeper" in err.message
    indented = "".join("  " * i + "k:\n" for i in range(500))
    path.write_text("fingerprints:\n" + indented)
    assert "nested deeper" in _located(path).message


def test_yaml_entries_are_named_by_line_and_key(tmp_path: Path) -> None:
    path = tmp_path / "fp.yaml"
    path.write_text(
        "fingerprints:\n"
        "  - {id: a, vendor: v, scope: body, match: contains, pattern: x}\n"
        "  - {id: b, vendor: v, scope: body, match: contains, pattern: [1, 2]}\n"
    )
    err = _located(path)
    assert (err.line, err.field) == (3, "pattern")
    path.write_text(
        f"fingerprints:\n  - {{id: a, vendor: v, scope: body, match: contains, "
        f"pattern: {'y' * 5000}}}\n"
    )
    err = _located(path)
    assert (err.line, err.field) == (2, "pattern")
    assert "longer than 4096" in err.message


def test_users_regexes_run_on_re2_and_what_it_cannot_run_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "fp.csv"
    # the classic exponential pattern for a backtracking engine: RE2 runs it in linear time
    path.write_text(HEADER + "prs_slow,prod,,body,regexp,(a+)+$,true,,,,\n")
    (slow,) = load_fingerprint_file(str(path))
    assert type(slow._regex).__name__ == "_LinearRegex"
    fps = load_fingerprints([str(path)])
    assert not [m for m in match_http(fps, body="a" * 5000 + "!") if m.fingerprint == slow.id]
    assert [m for m in match_http(fps, body="xx aaaa") if m.fingerprint == slow.id]
    # case-insensitive, and "." crosses lines, like the shipped set's patterns
    path.write_text(HEADER + 'prs_ml,prod,,body,regexp,"blocked.{0,40}by acme",true,,,,\n')
    fps = load_fingerprints([str(path)])
    assert match_http(fps, body="BLOCKED\n<b>by ACME</b>")[0].vendor == "ml"
    path.write_text(HEADER + ROW + r"prs_ref,prod,,body,regexp,(a)\1,true,,,," + "\n")
    err = _located(path)
    assert (err.line, err.field) == (3, "pattern")
    assert "RE2" in err.message


def test_a_good_ooni_file_still_loads(tmp_path: Path) -> None:
    path = tmp_path / "fp.csv"
    path.write_text(
        HEADER + ROW + '\r\nprs_fortinet,prod,,header.location,regexp,"^https?://[^/]+:8008/",'
        'true,,,,"a note, with a comma"\r\n'
    )
    loaded = load_fingerprint_file(str(path))
    assert [f.vendor for f in loaded] == ["acme", "fortiguard"]
