"""The built-in catalogue and targets files: what loads, and how bad input is located.

Pure tests: no network. Sample and bad files live in tests/data/targets/.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from netcheck import textfile
from netcheck.errors import InputError
from netcheck.models import FUNCTIONS, Target
from netcheck.targets import catalogue
from netcheck.targets.catalogue import (
    builtin_targets,
    known_services,
    live_ingest_thresholds,
    load_targets_file,
    merge,
    select,
)
from tests.support.paths import TESTS

DATA = TESTS / "data" / "targets"
BIG_THREE = ("facebook", "youtube", "x")
OTHERS = (
    "instagram",
    "linkedin",
    "tiktok",
    "whatsapp",
    "telegram",
    "threads",
    "bluesky",
    "mastodon",
)


def _covers(pattern: str, host: str) -> bool:
    """Whether a certificate name covers a host (one wildcard label at the left)."""
    if pattern.startswith("*."):
        head, _, rest = host.partition(".")
        return bool(head) and rest == pattern[2:]
    return pattern == host


# --- the built-in catalogue ---------------------------------------------------------------------


def test_big_three_have_every_function() -> None:
    present = {(t.service, t.function) for t in builtin_targets()}
    needed = ("view", "official_channel", "login", "admin", "media", "api", "live_ingest")
    for service in BIG_THREE:
        missing = [f for f in needed if (service, f) not in present]
        assert not missing, f"{service} lacks {missing}"
    assert ("x", "upload") in present


def test_other_services_have_view() -> None:
    present = {(t.service, t.function) for t in builtin_targets()}
    for service in OTHERS:
        assert (service, "view") in present
    assert set(known_services()) == {*BIG_THREE, *OTHERS}


def test_every_entry_is_well_formed() -> None:
    targets = builtin_targets()
    assert len({(t.url, t.function) for t in targets}) == len(targets), "duplicate entries"
    for t in targets:
        parts = urlsplit(t.url)
        assert parts.scheme == "https", t.url
        assert parts.hostname, t.url
        assert catalogue.url_problem(t.url) is None
        assert t.service in known_services()
        assert t.function in FUNCTIONS
        assert t.category in ("GRP", "MMED", "COMT")
        assert t.hosts_note in ("confirmed", "from-public-code")
        assert t.expect.cert_names, f"{t.url} has no cert_names"
        # a plain name must be the host itself or cover it; a wildcard must cover the host
        assert any(_covers(name, parts.hostname) for name in t.expect.cert_names), t.url
        assert catalogue.service_for_host(parts.hostname) == t.service or t.function == "login"


def test_pages_have_expectations_and_endpoints_do_not() -> None:
    for t in builtin_targets():
        if t.function in ("media", "api", "live_ingest", "upload"):
            assert not t.expect.title_contains, t.url
            assert not t.expect.body_contains, t.url
        if t.function == "view" and t.service in ("facebook", "youtube", *OTHERS):
            assert t.expect.title_contains, t.url


def test_uncertain_hosts_are_marked() -> None:
    marked = {urlsplit(t.url).hostname for t in builtin_targets() if t.hosts_note != "confirmed"}
    assert {"adsmanager.facebook.com", "pro.x.com", "ads.x.com"} <= marked
    assert "www.facebook.com" not in marked


def test_live_ingest_uses_port_443_and_thresholds() -> None:
    ingest = {t.service: t.url for t in builtin_targets() if t.function == "live_ingest"}
    assert ingest["youtube"] == "https://a.rtmps.youtube.com:443/"
    assert ingest["facebook"] == "https://rtmp-api.facebook.com:443/"
    assert live_ingest_thresholds() == {
        "youtube": {"1080p30": 10.0, "720p30": 4.0},
        "facebook": {"max": 9.0},
    }
    live_ingest_thresholds()["youtube"]["1080p30"] = 0  # a copy: the catalogue stays intact
    assert live_ingest_thresholds()["youtube"]["1080p30"] == 10.0


def test_bandwidth_hints_cover_every_service() -> None:
    hints = catalogue.bandwidth_hints()
    assert set(hints) == set(known_services())
    assert all(url is None or catalogue.url_problem(url) is None for url in hints.values())


def test_packaged_yaml_is_plain_yaml() -> None:
    # other tools (and people) read the file without netcheck's walker
    raw = yaml.safe_load((DATA.parents[2] / "netcheck" / "data" / "catalogue.yaml").read_text())
    assert len(raw["targets"]) == len(builtin_targets())


# --- targets files ------------------------------------------------------------------------------


def test_yaml_targets_file_loads_and_merges() -> None:
    extra = load_targets_file(str(DATA / "agency.yaml"))
    assert [t.url for t in extra] == [
        "https://www.youtube.com/@MinistryOfHealth",
        "https://www.facebook.com/MinistryOfHealth",
        "https://x.com/X",
        "http://intranet-portal.example.gov/",
    ]
    health = extra[0]
    assert health.official
    assert health.category == "MMED"
    assert health.expect.title_contains == ["Ministry of Health", "YouTube"]
    assert extra[1].expect.title_contains == ["Facebook"]  # one word stands for a list of one
    assert extra[3].service == "agency-portal"
    assert not extra[3].official

    builtin = builtin_targets()
    merged = merge(builtin, extra)
    assert len(merged) == len(builtin) + 3  # x.com/X replaces the catalogue's template
    by_key = {(t.url, t.function): t for t in merged}
    assert by_key[("https://x.com/X", "official_channel")].official
    assert by_key[("https://www.youtube.com/@MinistryOfHealth", "official_channel")].official
    # the replaced entry keeps its place in the catalogue order
    position = [t.url for t in builtin].index("https://x.com/X")
    assert merged[position].official


def test_merge_treats_trivially_different_urls_as_one() -> None:
    a = Target(url="https://WWW.Facebook.com", service="facebook", function="view")
    b = Target(url="https://www.facebook.com/", service="facebook", function="view", official=True)
    c = Target(url="https://www.facebook.com/", service="facebook", function="login")
    d = Target(url="https://www.facebook.com:443/", service="facebook", function="login")
    assert merge([a], [b, c]) == [b, c]
    assert merge([a, c], [d]) == [a, d]


def test_citizen_lab_csv_loads() -> None:
    targets = load_targets_file(str(DATA / "citizenlab.csv"))
    got = [(t.service, t.category) for t in targets]
    assert got == [
        ("facebook", "GRP"),
        ("x", "GRP"),
        ("youtube", "MMED"),
        ("example.gov.uk", "GOVT"),
        ("mastodon", "GRP"),
        ("198.51.100.7", None),
    ]
    assert {t.function for t in targets} == {"view"}
    assert not any(t.official for t in targets)


def test_format_is_sniffed_without_a_known_extension(tmp_path: Path) -> None:
    csv_copy = tmp_path / "list.txt"
    csv_copy.write_text((DATA / "citizenlab.csv").read_text())
    yaml_copy = tmp_path / "targets"
    yaml_copy.write_text((DATA / "agency.yaml").read_text())
    assert len(load_targets_file(str(csv_copy))) == 6
    assert len(load_targets_file(str(yaml_copy))) == 4


def test_select_by_service_and_function() -> None:
    targets = builtin_targets()
    youtube_media = select(targets, services=["youtube"], functions=["media"])
    assert {urlsplit(t.url).hostname for t in youtube_media} == {"i.ytimg.com", "yt3.ggpht.com"}
    x_view = select(targets, services=["Twitter"], functions=["view"])  # alias, any case
    assert {t.url for t in x_view} == {"https://x.com/", "https://twitter.com/", "https://t.co/"}
    both = select(targets, services=["facebook,youtube"])
    assert {t.service for t in both} == {"facebook", "youtube"}
    assert select(targets) == targets
    agency = merge(targets, load_targets_file(str(DATA / "agency.yaml")))
    assert [t.service for t in select(agency, services=["agency-portal"])] == ["agency-portal"]


def test_select_rejects_unknown_names() -> None:
    with pytest.raises(InputError) as err:
        select(builtin_targets(), services=["myspace"])
    assert err.value.field == "--service"
    assert "myspace" in err.value.message
    assert "youtube" in err.value.message
    with pytest.raises(InputError) as err:
        select(builtin_targets(), functions=["view", "broadcast"])
    assert err.value.field == "--function"
    assert "broadcast" in err.value.message
    assert "live_ingest" in err.value.message


# --- bad input: file, line and field ------------------------------------------------------------

BAD = [
    ("bad_yaml.yaml", 4, None, "invalid YAML"),
    ("missing_url.yaml", 5, "targets[1].url", "missing"),
    ("bad_scheme.yaml", 4, "targets[0].url", "http or https"),
    ("no_scheme.yaml", 8, "targets[2].url", "no scheme"),
    ("unknown_key.yaml", 7, "targets[0].expect.titel_contains", "unknown key"),
    ("wrong_type.yaml", 5, "targets[0].official", "true or false"),
    ("unknown_function.yaml", 4, "targets[0].function", "broadcast"),
    ("empty.yaml", None, None, "no targets"),
    ("empty_targets.yaml", 2, "targets", "no targets"),
    ("no_url_column.csv", 1, "url", "no 'url' column"),
    ("bad_url.csv", 3, "url", "http or https"),
]


@pytest.mark.parametrize(("name", "line", "field", "words"), BAD)
def test_bad_file_is_located(name: str, line: int | None, field: str | None, words: str) -> None:
    path = str(DATA / name)
    with pytest.raises(InputError) as err:
        load_targets_file(path)
    assert err.value.file == path
    assert err.value.line == line
    assert err.value.field == field
    assert words in err.value.message
    assert str(err.value).startswith(path)


_T = "targets:\n  - "
_OK = "service: x, function: view"


@pytest.mark.parametrize(
    ("text", "line", "field"),
    [
        (_T + "url: 42\n    service: x\n    function: view\n", 2, "targets[0].url"),
        (_T + "{url: 'https://', " + _OK + "}\n", 2, "targets[0].url"),
        (_T + "{url: 'https://a.b:99999/', " + _OK + "}\n", 2, "targets[0].url"),
        (_T + "{url: 'https://a b/', " + _OK + "}\n", 2, "targets[0].url"),
        (_T + "{url: 'https://a/', service: [x], function: view}\n", 2, "targets[0].service"),
        (_T + "{url: 'https://a/', " + _OK + ", url: 'https://b/'}\n", 2, "targets[0].url"),
        (_T + "just a string\n", 2, "targets[0]"),
        ("targets: {url: 'https://a/'}\n", 1, "targets"),
        (
            _T + "{url: 'https://a/', " + _OK + ",\n     expect: {cert_names: ['a b']}}\n",
            3,
            "targets[0].expect.cert_names[0]",
        ),
        ("version: 2\ntargets: []\n", 1, "version"),
        ("- url: https://a/\n", 1, None),
        (_T + "{url: 'https://a/', " + _OK + ", 3: y}\n", 2, "targets[0]"),
        (_T + "url: !!binary aGVsbG8=\n    service: x\n    function: view\n", 2, "targets[0].url"),
        ("targets: !!python/object:os.system []\n", 1, "targets"),
        ("\x00targets: []\n", 1, None),
        (
            _T + "{url: 'https://a/', " + _OK + ", official: !!bool maybe}\n",
            2,
            "targets[0].official",
        ),
        ("targets: []\n---\ntargets: []\n", 2, None),
        ("targets:\n  - {url: 'https://a/'\n", 2, None),
    ],
)
def test_bad_yaml_text_is_located(
    tmp_path: Path, text: str, line: int | None, field: str | None
) -> None:
    path = tmp_path / "t.yaml"
    path.write_text(text)
    with pytest.raises(InputError) as err:
        load_targets_file(str(path))
    assert (err.value.line, err.value.field) == (line, field)


def test_unreadable_and_oversized_files(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="cannot read"):
        load_targets_file(str(tmp_path / "absent.yaml"))
    with pytest.raises(InputError, match="cannot read"):
        load_targets_file(str(tmp_path))
    big = tmp_path / "big.csv"
    big.write_bytes(b"url\n" + b"https://a.example/\n" * (textfile.MAX_FILE_BYTES // 18))
    with pytest.raises(InputError, match="larger than"):
        load_targets_file(str(big))
    latin = tmp_path / "latin.yaml"
    latin.write_bytes(b"targets:\n  - url: https://caf\xe9.example/\n")
    with pytest.raises(InputError) as err:
        load_targets_file(str(latin))
    assert err.value.line == 2
    assert "UTF-8" in err.value.message


def test_hostile_yaml_is_bounded(tmp_path: Path) -> None:
    path = tmp_path / "deep.yaml"
    path.write_text("targets: " + "[" * 5000 + "]" * 5000)
    with pytest.raises(InputError):
        load_targets_file(str(path))
    # YAML aliases multiply an entry without growing the file: the count of entries is capped
    lines = ["targets:", "  - &e {url: 'https://a/', service: x, function: view}"]
    lines += ["  - *e"] * catalogue.MAX_TARGETS
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(InputError, match="too many targets") as err:
        load_targets_file(str(path))
    assert (err.value.line, err.value.field) == (2, "targets")
    words = ", ".join(["w"] * (catalogue.MAX_LIST_ITEMS + 1))
    path.write_text(f"targets:\n  - {{url: 'https://a/', service: x, function: view,\n"
                    f"     expect: {{body_contains: [{words}]}}}}\n")  # fmt: skip
    with pytest.raises(InputError, match="more than") as err:
        load_targets_file(str(path))
    assert (err.value.line, err.value.field) == (3, "targets[0].expect.body_contains")


@pytest.mark.parametrize(
    ("name", "body", "line", "words"),
    [
        # an unterminated quote must not merge the rows after it into one cell
        (
            "quote.csv",
            'url,category_code,notes\nhttps://a.example/,GRP,"open\nhttps://b.example/,GRP,x\n',
            2,
            "unterminated quote",
        ),
        (
            "closed-later.csv",
            'url,category_code,notes\nhttps://a.example/,GRP,"open\nhttps://b.example/,GRP,x"\n',
            2,
            "unterminated quote",
        ),
        (
            "nul.csv",
            "url,category_code\nhttps://a.example/,GRP\nhttps://b.exa\x00mple/,GRP\n",
            3,
            "NUL",
        ),
        ("bell.yaml", "targets:\n  - url: https://a.example/\x07\n", 2, "binary"),
        ("shifted.csv", "url,category_code\nhttps://a.example/,GRP,extra,cells\n", 2, "cells"),
        (
            "deep.yaml",
            "targets:\n" + "".join("  " * (i + 1) + "k:\n" for i in range(80)),
            64,
            "nested",
        ),
    ],
)
def test_not_text_or_broken_rows_are_named_at_their_line(
    tmp_path: Path, name: str, body: str, line: int, words: str
) -> None:
    path = tmp_path / name
    path.write_text(body)
    with pytest.raises(InputError) as err:
        load_targets_file(str(path))
    assert err.value.line == line
    assert words in err.value.message


def test_long_text_values_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "t.yaml"
    path.write_text(
        f"targets:\n  - url: https://a.example/\n    service: {'s' * 5000}\n    function: view\n"
    )
    with pytest.raises(InputError) as err:
        load_targets_file(str(path))
    assert (err.value.line, err.value.field) == (3, "targets[0].service")


# --- never anything but InputError --------------------------------------------------------------

# Tokens of targets files and of YAML syntax, joined at random: most texts are broken YAML,
# some are valid YAML of the wrong shape, a few are valid targets files.
_TOKENS = [
    *"targets:urlservicefunctionview- []{},'\"&*!#|>?\n\t\\%@`01",
    *["https://", "http://", "ftp://", "  - ", ": ", "\n  ", "true", "null", "~", "\x00", "é"],
    *["targets:\n", "url: https://a.example/\n", "service: x\n", "function: view\n", ","],
]
_YAMLISH = st.lists(st.sampled_from(_TOKENS), max_size=120).map("".join)
_FIELD_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.text(max_size=30),
    st.sampled_from(["https://www.facebook.com/", "view", "youtube", "GRP", "ftp://a/", ""]),
    st.lists(st.text(max_size=10), max_size=3),
)
_ENTRIES = st.dictionaries(
    st.sampled_from(["url", "service", "function", "official", "expect", "category", "bogus"]),
    _FIELD_VALUES,
)


def _load_text(text: str, suffix: str) -> None:
    fd, name = tempfile.mkstemp(suffix=suffix)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
        error: InputError | None = None
        targets: list[Target] = []
        try:
            targets = load_targets_file(name)
        except InputError as exc:
            error = exc
        if error is None:
            assert targets
        else:
            assert error.file == name
            assert error.line is None or error.line >= 1
            assert all(catalogue.url_problem(t.url) is None for t in targets)
    finally:
        os.unlink(name)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=_YAMLISH, suffix=st.sampled_from([".yaml", ".csv", ".txt"]))
def test_arbitrary_text_only_raises_input_error(text: str, suffix: str) -> None:
    _load_text(text, suffix)


@settings(max_examples=200, deadline=None)
@given(entries=st.lists(_ENTRIES, max_size=4), extra=st.booleans())
def test_arbitrary_entries_only_raise_input_error(
    entries: list[dict[str, object]], extra: bool
) -> None:
    document: dict[str, object] = {"targets": entries}
    if extra:
        document["extra"] = entries
    _load_text(yaml.safe_dump(document), ".yaml")


_AGENCY = (DATA / "agency.yaml").read_text()


@settings(max_examples=300, deadline=None)
@given(
    edits=st.lists(
        st.tuples(st.integers(0, len(_AGENCY)), st.integers(0, 3), st.sampled_from(_TOKENS)),
        min_size=1,
        max_size=4,
    )
)
def test_damaged_valid_file_only_raises_input_error(edits: list[tuple[int, int, str]]) -> None:
    text = _AGENCY
    for at, cut, token in edits:
        text = text[:at] + token + text[at + cut :]
    _load_text(text, ".yaml")


# --- the YAML reader all user files share (textfile.compose_yaml) --------------------------------


def _tree(node: yaml.Node) -> object:
    """A node tree as plain data: kinds, tags, values and the line of every node."""
    if isinstance(node, yaml.ScalarNode):
        return (node.tag, node.value, node.start_mark.line)
    items = (
        node.value if isinstance(node, yaml.SequenceNode) else [x for p in node.value for x in p]
    )
    return (node.tag, node.start_mark.line, [_tree(item) for item in items])


@pytest.mark.parametrize(
    "path",
    [
        "netcheck/data/catalogue.yaml",
        "netcheck/lab/scenarios.yaml",
        "policies/ministerio-ejemplo.yaml",
        "tests/data/targets/agency.yaml",
    ],
)
def test_libyaml_events_compose_the_tree_pyyaml_would(path: str) -> None:
    text = (TESTS.parent / path).read_text(encoding="utf-8")
    ours = textfile.compose_yaml(text, path)
    pure = yaml.compose(text, Loader=yaml.SafeLoader)
    assert ours is not None
    assert pure is not None
    assert _tree(ours) == _tree(pure)


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ("é: 1\nb: 2\nc: \x7f\n", 3, "control characters"),  # after text of two-byte letters
        ("éééé: 1\nb: 2\nc: 3\nd: \ufffe\n", 4, "control characters"),
        ("a: 1\nb: \ud800\n", 2, "not Unicode"),
        ("a: " + "[" * 5000 + "]" * 5000 + "\n", 1, "nested deeper than"),
        ("a:\n  b: [1, 2\n", 2, "invalid YAML"),
    ],
)
def test_yaml_that_does_not_read_is_named_at_its_line(text: str, line: int, words: str) -> None:
    with pytest.raises(InputError) as err:
        textfile.compose_yaml(text, "f.yaml")
    assert (err.value.file, err.value.line) == ("f.yaml", line)
    assert words in err.value.message


def test_yaml_with_too_many_values_stops_at_the_value_past_the_cap() -> None:
    """Counted as the nodes are built: a huge flat list stops early, named at its line."""
    text = "a:\n" + "- x\n" * 20  # mapping, key, list, then item k on line k + 1
    assert textfile.compose_yaml(text, "f.yaml", max_nodes=23) is not None
    with pytest.raises(InputError) as err:
        textfile.compose_yaml(text, "f.yaml", max_nodes=10)
    assert (err.value.file, err.value.line) == ("f.yaml", 9)
    assert "more than 10 values" in err.value.message
    flat = "[" + ",".join(["1"] * (textfile.MAX_YAML_NODES + 5)) + "]\n"
    with pytest.raises(InputError) as err:
        textfile.compose_yaml(flat, "f.yaml")
    assert err.value.line == 1
    assert f"more than {textfile.MAX_YAML_NODES:,} values" in err.value.message
