"""Hostile and malformed targets files (YAML, Citizen Lab CSV) and filters, through the real
`targets list`: exit code 2 and one line naming file, line and field (issue 12)."""

from __future__ import annotations

from pathlib import Path

import pytest

from netcheck.errors import InputError
from netcheck.targets.catalogue import load_targets_file, url_problem
from tests.cli.test_cli import netcheck  # the command in a subprocess, proxy variables unset
from tests.targets.support import ENTRY, one_line


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("https://./", "empty label"),
        ("https://a..example/", "empty label"),
        ("https://" + "a" * 64 + ".example/", "too long"),
        ("https://xn--a.example/", "punycode"),
        ("https://999.1.1.1/", "not an IPv4 address"),
        ("https://example.org:0/", "port 0"),
        ("https://user:secret@example.org/", "password"),
    ],
)
def test_a_url_nobody_could_reach_is_refused_at_its_line(
    tmp_path: Path, url: str, words: str
) -> None:
    """These went to the resolver, failed, and came back as a verdict: "blocked by a DNS filter"
    (exit 1), for a name that cannot exist, or with the password written into every record."""
    path = tmp_path / "t.yaml"
    path.write_text(ENTRY.format(url=f'"{url}"', service="ex"))
    proc = netcheck("targets", "list", "--targets", "t.yaml", cwd=tmp_path)
    one_line(proc, "t.yaml:2: targets[0].url:", words)
    csv = tmp_path / "t.csv"
    csv.write_text(f"url,category_code\nhttps://example.org/,NEWS\n{url},NEWS\n")
    with pytest.raises(InputError) as caught:
        load_targets_file(str(csv))
    assert (caught.value.line, caught.value.field) == (3, "url")


@pytest.mark.parametrize(
    "url",
    [
        "https://пример.рф/",
        "https://xn--e1afmkfd.xn--p1ai/",
        "https://example.org./",
        "https://1.2.3.4:8443/",
        "http://[2001:db8::1]/",
        "https://a_b.example.org/",
    ],
)
def test_real_hosts_still_pass(url: str) -> None:
    assert url_problem(url) is None


# --- targets: text that would reach the terminal and every report --------------------------------


@pytest.mark.parametrize(
    ("service", "words"),
    [
        ('"a\\0b"', "U+0000"),
        ('"a\\nb"', "U+000A"),
        ('"a\\u202eb"', "U+202E"),
        ('"a\\x1bb"', "U+001B"),
    ],
)
def test_control_characters_from_yaml_escapes_are_refused(
    tmp_path: Path, service: str, words: str
) -> None:
    """The file's own bytes are checked for binary data, but YAML's escapes made a NUL, a
    newline or a right-to-left override inside a value, and `targets list` printed them."""
    (tmp_path / "t.yaml").write_text(ENTRY.format(url="https://example.org/", service=service))
    proc = netcheck("targets", "list", "--targets", "t.yaml", cwd=tmp_path)
    one_line(proc, "t.yaml:3: targets[0].service:", words)


def test_a_key_with_a_newline_is_named_on_one_line(tmp_path: Path) -> None:
    (tmp_path / "t.yaml").write_text(
        ENTRY.format(url="https://example.org/", service="ex") + '    "a\\nb": 1\n'
    )
    proc = netcheck("targets", "list", "--targets", "t.yaml", cwd=tmp_path)
    one_line(proc, "t.yaml:5: targets[0]:", "U+000A")


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("  \n\n", "t.csv: no targets: the file is empty"),
        ("url,url\nhttps://a.example/,https://b.example/\n", "t.csv:1: url: the column is named"),
        ("url,category_code\nhttps://a.example/,N\x0bEWS\n", "t.csv:2: category_code: holds"),
    ],
)
def test_citizen_lab_csv_cases(tmp_path: Path, text: str, needle: str) -> None:
    (tmp_path / "t.csv").write_text(text)
    one_line(netcheck("targets", "list", "--targets", "t.csv", cwd=tmp_path), needle)


def test_blank_lines_before_the_csv_header_are_skipped(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text("\n\nurl,category_code\nhttps://a.example/,NEWS\n")
    assert [t.url for t in load_targets_file(str(path))] == ["https://a.example/"]


@pytest.mark.parametrize("flag", ["--service", "--function"])
def test_an_empty_filter_is_refused_not_read_as_all(tmp_path: Path, flag: str) -> None:
    proc = netcheck("targets", "list", flag, "", cwd=tmp_path)
    one_line(proc, f"{flag}: '' names nothing")


def test_aliases_cannot_multiply_a_small_file(tmp_path: Path) -> None:
    """A 200 kB file whose one entry (128 kB of expected words) is repeated by 19,999 aliases
    ran for minutes, and `targets list --json` would have printed 2.5 GB."""
    words = "[" + ",".join(["w" * 1000] * 64) + "]"
    expect = f"{{title_contains: {words}}}"
    entry = f"{{url: https://a.example/, service: a, function: view, expect: {expect}}}"
    (tmp_path / "t.yaml").write_text(f"targets:\n  - &e {entry}\n" + "  - *e\n" * 19_999)
    proc = netcheck("targets", "list", "--targets", "t.yaml", "--json", cwd=tmp_path)
    one_line(proc, "t.yaml:2:", "aliases")
    assert proc.stdout == ""


@pytest.mark.parametrize("name", ["*", "*.*", "a..example", "xn--a.example", "a*.example.org"])
def test_a_certificate_name_no_certificate_could_hold_is_refused(tmp_path: Path, name: str) -> None:
    """It would match no certificate, and every page would look intercepted."""
    text = ENTRY.format(url="https://example.org/", service="ex")
    (tmp_path / "t.yaml").write_text(text + f'    expect: {{cert_names: ["{name}"]}}\n')
    proc = netcheck("targets", "list", "--targets", "t.yaml", cwd=tmp_path)
    one_line(proc, "t.yaml:5: targets[0].expect.cert_names[0]: not a DNS name")
