"""Defects of the policy and config readers found by the audit of issue 12 (after 0966327):
each bad input is one ``netcheck: error: FILE:LINE: field: message`` line, exit 2, nothing
written; what an offline command reads never sends a packet.
"""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from netcheck.cli import app

runner = CliRunner()

HEAD = "organisation: t\nversion: 1\ndate: 2026-01-01\ndefault: allow\n"


def _run(*args: str) -> Any:
    out = runner.invoke(app, list(args))
    assert "Traceback" not in out.output
    return out


def _one_error(out: Any) -> str:
    assert out.exit_code == 2, out.output
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1, out.stderr
    assert lines[0].startswith("netcheck: error: "), lines[0]
    return str(lines[0])


# --- A: validate follows the error contract -------------------------------------------------


def test_validate_problems_are_listed_on_stdout_and_exit_2(tmp_path: Path) -> None:
    policy = tmp_path / "p.yaml"
    policy.write_text(
        HEAD + "rules:\n"
        "  - {id: a, match: {hosts: [.youtube.com]}, action: block}\n"
        "  - {id: b, match: {hosts: [studio.youtube.com]}, action: allow}\n"
        "  - {id: c, match: {hosts: [m.youtube.com]}, action: allow}\n"
    )
    out = _run("policy", "validate", str(policy))
    error = _one_error(out)
    assert error.startswith(f"netcheck: error: {policy}:7: rules[1]: rule 'b' can never match")
    assert error.endswith("(2 problems in all, listed on stdout)")
    assert out.stdout.splitlines()[0].startswith(f"{policy}:7: rules[1]: ")
    assert out.stdout.splitlines()[1].startswith(f"{policy}:8: rules[2]: ")


def test_validate_one_problem_is_the_error_line(tmp_path: Path) -> None:
    policy = tmp_path / "p.yaml"
    policy.write_text(HEAD + "colour: red\n")
    out = _run("policy", "validate", str(policy))
    error = _one_error(out)
    assert error == f"netcheck: error: {out.stdout.strip()}"
    assert f"{policy}:5: " in error


def test_validate_a_missing_file_is_exit_2(tmp_path: Path) -> None:
    out = _run("policy", "validate", str(tmp_path / "nope.yaml"))
    assert str(tmp_path / "nope.yaml") in _one_error(out)


def test_validate_a_valid_file_is_exit_0(tmp_path: Path) -> None:
    policy = tmp_path / "p.yaml"
    policy.write_text(HEAD + "rules:\n  - {id: a, match: {hosts: [.youtube.com]}, action: block}\n")
    out = _run("policy", "validate", str(policy))
    assert out.exit_code == 0, out.output


# --- F: reading a PAC never resolves a name ------------------------------------------------

DNS_PAC = """function FindProxyForURL(url, host) {
  // routes by what names resolve to
  if (isInNet(host, "10.0.0.0", "255.0.0.0")) return "PROXY 0.0.0.0:3128";
  if (dnsResolve(host) == null && !isResolvable(host)) return "DIRECT";
  return "PROXY 127.0.0.1:9";
}
"""


@pytest.fixture
def no_resolver(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"an offline command resolved a name: {args}")

    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setattr(socket, "gethostbyname", refuse)


@pytest.mark.usefixtures("no_resolver")
def test_pac_dns_functions_do_not_resolve_in_offline_commands(tmp_path: Path) -> None:
    pac = tmp_path / "dns.pac"
    pac.write_text(DNS_PAC)
    # "localhost" resolves from /etc/hosts without a packet: if the worker resolved anything,
    # dnsResolve would give 127.0.0.1 and the PAC would answer the black hole
    out = _run("policy", "explain", "--format", "pac", str(pac), "http://localhost/", "--json")
    assert out.exit_code == 0, out.output
    assert '"decision": "allow"' in out.stdout
    assert f"netcheck: warning: {pac}:3: isInNet needs name resolution" in out.stderr
    assert "computed as if no name resolves" in out.stderr
    # an IP literal is still computed
    out = _run("policy", "explain", "--format", "pac", str(pac), "http://10.1.2.3/", "--json")
    assert '"decision": "block"' in out.stdout
    out = _run("policy", "import", "pac", str(pac))
    assert out.exit_code == 0, out.output
    assert f"# warning: {pac}:3: isInNet needs name resolution" in out.stdout


def test_the_probes_pac_still_resolves() -> None:
    from netcheck.pacjs import SandboxedPac

    pac = SandboxedPac(DNS_PAC)  # as measure/proxy.py builds it
    try:
        assert pac.find_proxy_for_url("http://localhost/", "localhost") == "PROXY 127.0.0.1:9"
    finally:
        pac.close()


@pytest.mark.usefixtures("no_resolver")
def test_every_pac_dns_function_answers_unresolvable_offline() -> None:
    from netcheck.pacjs import SandboxedPac

    calls = [
        "dnsResolve(host)",
        "dnsResolveEx(host)",
        "isResolvable(host)",
        "isResolvableEx(host)",
        "isInNet(host, '127.0.0.0', '255.0.0.0')",
        "isInNetEx(host, '127.0.0.0/8')",
        "myIpAddress()",
        "myIpAddressEx()",
        "isInNet('127.0.0.1', '127.0.0.0', '255.0.0.0')",
    ]
    body = " + '|' + ".join(f"String({call})" for call in calls)
    pac = SandboxedPac(f"function FindProxyForURL(url, host) {{ return {body}; }}", resolve=False)
    try:
        answer = pac.find_proxy_for_url("http://localhost/", "localhost").split("|")
    finally:
        pac.close()
    assert answer == ["null", "", "false", "false", "false", "false", "127.0.0.1", "127.0.0.1"] + [
        "true"
    ]


# --- B, C, E, H, L: squid includes, continuation lines, non-squid files, bad values ------------


def _squid(tmp_path: Path, text: str, name: str = "squid.conf") -> Path:
    conf = tmp_path / name
    conf.parent.mkdir(parents=True, exist_ok=True)
    conf.write_text(text)
    return conf


def test_squid_include_is_followed_relative_to_the_including_file(tmp_path: Path) -> None:
    from netcheck.policy.importers import load_config

    part = _squid(tmp_path, "acl v dstdomain .youtube.com\nhttp_access deny v\n", "conf.d/v.conf")
    sites = _squid(tmp_path, ".x.com\n", "sites.txt")
    conf = _squid(
        tmp_path,
        "include conf.d/*.conf\n"
        "include /nonexistent-netcheck/*.conf\n"
        'acl x dstdomain "sites.txt"\nhttp_access deny x\nhttp_access allow all\n',
    )
    out = _run("policy", "explain", "--format", "squid", str(conf), "https://www.youtube.com/")
    assert out.exit_code == 0, out.output
    assert out.stdout.startswith("BLOCK")
    assert f"({part}:2)" in out.stdout
    warning = f"netcheck: warning: {conf}:2: include /nonexistent-netcheck/*.conf names no file"
    assert out.stderr.startswith(warning), out.stderr
    imported = _run("policy", "import", "squid", str(conf))
    assert imported.exit_code == 0, imported.output
    assert f"source: {part}:2" in imported.stdout
    assert warning in imported.stderr
    # L: every file read, as resolved paths
    assert load_config("squid", str(conf)).files == [
        str(conf.resolve()),
        str(part.resolve()),
        str(sites.resolve()),
    ]


def test_squid_include_cycle_and_depth_are_refused_at_their_line(tmp_path: Path) -> None:
    conf = _squid(tmp_path, "acl all src all\ninclude squid.conf\nhttp_access allow all\n")
    out = _run("policy", "import", "squid", str(conf))
    assert f"{conf}:2: include: " in _one_error(out)
    assert "include cycle" in out.stderr
    for n in range(20):
        _squid(tmp_path, f"include d{n + 1}.conf\n", f"d{n}.conf")
    _squid(tmp_path, "http_access allow all\n", "d20.conf")
    out = _run("policy", "import", "squid", str(tmp_path / "d0.conf"))
    assert "deeper than 16" in _one_error(out)


def test_squid_continuation_lines_are_joined(tmp_path: Path) -> None:
    conf = _squid(
        tmp_path,
        "acl v dstdomain .youtube.com \\\n    .x.com\n"
        "http_access deny \\\n  v\nhttp_access allow all\n"
        "acl r url_regex \\\n  (a\nhttp_access deny r\n",
    )
    out = _run("policy", "explain", "--format", "squid", str(conf), "https://www.x.com/", "--json")
    # the regex on lines 6-7 is refused at its first line
    assert f"{conf}:6: acl r: " in _one_error(out)
    conf.write_text(conf.read_text().rsplit("acl r", 1)[0])
    out = _run("policy", "explain", "--format", "squid", str(conf), "https://www.x.com/", "--json")
    assert out.exit_code == 0, out.output
    assert '"decision": "block"' in out.stdout
    assert '"line": 3' in out.stdout


def test_explain_squid_refuses_a_file_with_no_http_access(tmp_path: Path) -> None:
    policy = _squid(tmp_path, HEAD + "rules: []\n", "p.yaml")
    out = _run("policy", "explain", "--format", "squid", str(policy), "https://x.com/")
    assert f"{policy}: no http_access line" in _one_error(out)
    out = _run("check", "--policy", str(policy), "--config", f"squid:{policy}", str(policy))
    assert f"{policy}: no http_access line" in _one_error(out)


@pytest.mark.parametrize(
    ("acl", "value"),
    [("dst", "10.0.0.0/99"), ("dst", "abc"), ("port", "99999"), ("port", "abc"), ("port", "9-1")],
)
def test_squid_bad_dst_and_port_values_are_refused(tmp_path: Path, acl: str, value: str) -> None:
    conf = _squid(tmp_path, f"acl a {acl} 80 {value}\nhttp_access deny a\nhttp_access allow all\n")
    if acl == "dst":
        conf.write_text(conf.read_text().replace(" 80 ", " 10.0.0.1 "))
    out = _run("policy", "explain", "--format", "squid", str(conf), "http://10.0.0.1/")
    assert f"{conf}:1: acl a: {value!r} is not " in _one_error(out)


def test_squid_dstdomain_with_glob_characters_is_literal_as_in_squid(tmp_path: Path) -> None:
    conf = _squid(
        tmp_path, "acl a dstdomain .x*.com .y.com\nhttp_access deny a\nhttp_access allow all\n"
    )
    out = _run("policy", "explain", "--format", "squid", str(conf), "https://www.xy.com/")
    assert out.stdout.startswith("ALLOW"), out.output
    imported = _run("policy", "import", "squid", str(conf))
    assert imported.exit_code == 0, imported.output
    assert "'.x*.com' matches no host" in imported.stderr
    assert ".x*.com" not in imported.stdout.split("\nrules:", 1)[1]


# --- D: every RPZ rule carries its real line; names outside the zone are said -----------------


def test_rpz_rules_carry_their_line_and_out_of_zone_names_are_warned(tmp_path: Path) -> None:
    zone = tmp_path / "z.zone"
    zone.write_text(
        "$ORIGIN rpz.\n@ SOA a. b. 1 1 1 1 1\n@ NS a.\nx.com CNAME .\nfoo.other. CNAME .\n"
        "$ORIGIN sub.rpz.\ny CNAME .\nbücher.de CNAME .\n\\065bc.com CNAME .\n"
    )
    out = _run("policy", "import", "rpz", str(zone))
    assert out.exit_code == 0, out.output
    assert "line-0" not in out.stdout
    assert f"{zone}:0" not in out.stdout
    for line in (4, 7, 8, 9):
        assert f"source: {zone}:{line}\n" in out.stdout
    assert f"netcheck: warning: {zone}:5: 'foo.other.' is outside the zone's origin" in out.stderr
    explained = _run("policy", "explain", "--format", "rpz", str(zone), "http://x.com/")
    assert f"{zone}:5: 'foo.other.' is outside" in explained.stderr
    zone.write_text("$ORIGIN rpz.\n@ SOA a. b. 1 1 1 1 1\n@ NS a.\nfoo.other. CNAME .\n")
    error = _one_error(_run("policy", "import", "rpz", str(zone)))
    assert f"{zone}:4: 'foo.other.' is outside the zone's origin" in error
    assert "only SOA/NS" not in error


# --- G: ad-block lists: hosts lines, /regex/$options, hosts that are not host names -----------


def test_adblock_hosts_lines_regex_options_and_bad_hosts(tmp_path: Path) -> None:
    listing = tmp_path / "list.txt"
    listing.write_text(
        "127.0.0.1 localhost\n0.0.0.0 a.com b.com\n/banner/$script\n||fаcebook.com^\n"
        "||face\u202ebook.com^\n||a..b^\n||-.com^\n"
    )
    out = _run("policy", "import", "adblock", str(listing))
    assert out.exit_code == 0, out.output
    rules = out.stdout.split("\nrules:", 1)[1]
    assert "localhost\n" not in rules
    assert "- /banner/" not in rules
    assert "- .a.com" in rules
    assert "- .b.com" in rules
    assert "url_regex:\n    - banner" in rules
    warned = [w.split(": ", 3)[2] for w in out.stderr.splitlines()]
    assert warned == [f"{listing}:{n}" for n in (1, 4, 5, 6, 7)], out.stderr

    def decision(url: str) -> str:
        answer = _run("policy", "explain", "--format", "adblock", str(listing), url)
        return str(answer.stdout.split()[0])

    assert decision("https://example.org/?q=localhost") == "ALLOW"
    assert decision("https://x.b.com/") == "BLOCK"
    assert decision("https://x.org/banner.gif") == "BLOCK"
    listing.write_text("||x.com^ foo\n")
    error = _one_error(_run("policy", "import", "adblock", str(listing)))
    assert f"{listing}:1: not a rule netcheck reads (blanks inside)" in error


# --- I: messages say what is wrong, with the line ---------------------------------------------


@pytest.mark.parametrize(
    ("script", "line", "message"),
    [
        (
            "var a = [];\nwhile (true) a.push(new Array(100000));\n"
            "function FindProxyForURL(url, host) { return 'DIRECT'; }\n",
            None,
            "ran out of memory",
        ),
        ("var FindProxyForURL = 5;\n", 1, "defines no function FindProxyForURL(url, host)"),
        ("// FindProxyForURL\nvar x = 1;\n", 1, "defines no function FindProxyForURL"),
        ("function FindProxyForURL(url, host) {\n  throw new Error('boom');\n}\n", 2, "boom"),
    ],
)
def test_pac_errors_say_what_and_where(
    tmp_path: Path, script: str, line: int | None, message: str
) -> None:
    pac = tmp_path / "p.pac"
    pac.write_text(script)
    error = _one_error(_run("policy", "import", "pac", str(pac)))
    assert error.startswith(f"netcheck: error: {pac}{'' if line is None else f':{line}'}: ")
    assert message in error
    assert "null" not in error
    assert "FindProxyForURLEx" not in error


@pytest.mark.parametrize(
    ("body", "line", "message"),
    [
        ("$GENERATE 1-5/0 host$ CNAME .\n", 4, "step 0: a step must be 1 or more"),
        ("x.com CNAME .\nx.com A 1.2.3.4\n", 5, "a name with a CNAME has other records too"),
        ((("a" * 60 + ".") * 5) + "com CNAME .\n", 4, "a name longer than 255 bytes"),
    ],
)
def test_rpz_errors_say_what_and_where(tmp_path: Path, body: str, line: int, message: str) -> None:
    zone = tmp_path / "z.zone"
    zone.write_text("$ORIGIN rpz.\n@ SOA a. b. 1 1 1 1 1\n@ NS a.\n" + body)
    error = _one_error(_run("policy", "import", "rpz", str(zone)))
    assert f"{zone}:{line}: " in error
    assert message in error


def test_a_regex_too_big_for_re2_says_so(tmp_path: Path) -> None:
    policy = tmp_path / "p.yaml"
    policy.write_text(
        HEAD
        + "rules:\n  - {id: a, match: {url_regex: ['(((a{100}){100}){100})']}, action: block}\n"
    )
    error = _one_error(_run("policy", "validate", str(policy)))
    assert f"{policy}:6: rules[0].match.url_regex[0]: " in error
    assert "too big" in error


# --- J: check/report --config without FORMAT: on a file no format fits ---------------------------


def test_config_of_unknown_format_asks_for_format(tmp_path: Path) -> None:
    from netcheck.errors import InputError
    from netcheck.policy.importers import parse_config_spec

    lab = tmp_path / "lab.yaml"
    lab.write_text(HEAD)
    with pytest.raises(InputError) as caught:
        parse_config_spec(str(lab))
    assert str(caught.value).startswith(f"{lab}: --config: cannot tell which kind of config")
    assert "squid, pac, rpz, hosts, adblock" in str(caught.value)
    hosts = tmp_path / "blocked"
    hosts.write_text("# a hosts file\n0.0.0.0 a.com\n")
    assert parse_config_spec(str(hosts)).kind == "hosts"


# --- K: empty required strings and empty patterns are refused ----------------------------------


def test_empty_strings_and_patterns_are_refused(tmp_path: Path) -> None:
    policy = tmp_path / "p.yaml"
    policy.write_text(
        'organisation: ""\nversion: " "\ndate: 2026-01-01\ndefault: allow\nrules:\n'
        "  - {id: a, match: {host_regex: ['']}, action: block}\n"
        "  - {id: b, match: {url_regex: [x, '']}, action: block}\n"
    )
    out = _run("policy", "validate", str(policy))
    _one_error(out)
    assert out.stdout.splitlines() == [
        f"{policy}:1: organisation: must not be empty",
        f"{policy}:2: version: must not be empty",
        f"{policy}:6: rules[0].match.host_regex[0]: an empty pattern matches everything; "
        "write 'all: true' for that",
        f"{policy}:7: rules[1].match.url_regex[1]: an empty pattern matches everything; "
        "write 'all: true' for that",
    ]


# --- YAML tags: plain values only ------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "line", "tag"),
    [
        ("organisation: !!binary aGVsbG8=\nversion: 1\n", 1, "binary"),
        ("organisation: !!python/name:os.system\nversion: 1\n", 1, "python/name:os.system"),
        ("organisation: t\nversion: 1\nrules: !!set {a, b}\n", 3, "set"),
        ("organisation: t\nversion: 1\nrules: !!omap [a: 1]\n", 3, "omap"),
    ],
)
def test_a_yaml_tag_other_than_plain_values_is_refused_at_its_line(
    tmp_path: Path, text: str, line: int, tag: str
) -> None:
    """!!binary was read as bytes and passed on, !!python/... gave PyYAML's two-line message."""
    policy = tmp_path / "p.yaml"
    policy.write_text(text + "date: 2026-01-01\ndefault: allow\n")
    said = _one_error(_run("policy", "explain", str(policy), "https://www.youtube.com/"))
    assert said.startswith(f"netcheck: error: {policy}:{line}: ")
    assert f"YAML tag 'tag:yaml.org,2002:{tag}' is not allowed" in said


@pytest.mark.parametrize(
    ("host", "said"),
    [
        ("a..b", "an empty label"),
        ("xn--zz.com", "not valid punycode"),
        ("[", "a '[' without its ']'"),
        ("x.a]b[.com", "a '[' without its ']'"),
        ("*." + "a" * 64 + ".com", "a label over 63"),
    ],
)
def test_a_host_pattern_that_matches_no_real_host_is_refused(
    tmp_path: Path, host: str, said: str
) -> None:
    """Like a target's host (targets.files), a rule's host is a name a resolver could be
    asked for; its glob labels stand for many and are not checked as names."""
    policy = tmp_path / "p.yaml"
    rule = f'rules:\n  - id: r\n    match: {{hosts: ["{host}"]}}\n    action: block\n'
    policy.write_text(HEAD + rule)
    line = _one_error(_run("policy", "explain", str(policy), "https://www.youtube.com/"))
    assert line.startswith(f"netcheck: error: {policy}:7: rules[0].match.hosts: ")
    assert said in line


@pytest.mark.parametrize(
    "host", [".example.com", "*.example.com", "example.*", "x[ab].com", "10.0.0.*", "a.com."]
)
def test_host_patterns_people_write_still_load(tmp_path: Path, host: str) -> None:
    policy = tmp_path / "p.yaml"
    rule = f'rules:\n  - id: r\n    match: {{hosts: ["{host}"]}}\n    action: block\n'
    policy.write_text(HEAD + rule)
    assert _run("policy", "validate", str(policy)).exit_code == 0


def test_yaml_merge_keys_read_as_yaml_reads_them(tmp_path: Path) -> None:
    """'<<: *rule' copies a rule's keys, the rule's own keys win (targets and fingerprints
    files read merge keys the same way); decisions name the merging rule's own line."""
    policy = tmp_path / "p.yaml"
    policy.write_text(
        HEAD
        + "networks:\n  - {id: comms, cidrs: [10.0.0.0/8]}\n"
        + "rules:\n"
        + "  - &comms\n    id: a\n    networks: [comms]\n    action: allow\n"
        + "    match: {services: [youtube]}\n"
        + "  - <<: *comms\n    id: b\n    action: block\n    match: {services: [facebook]}\n"
    )
    assert _run("policy", "validate", str(policy)).exit_code == 0
    done = _run("policy", "explain", str(policy), "https://www.facebook.com/", "--network", "comms")
    assert done.exit_code == 0, done.output
    assert "BLOCK" in done.output
    assert f"by b  ({policy}:13)" in done.output
    # a merge of something that is not a mapping is named at its line
    policy.write_text(HEAD + "rules:\n  - id: a\n    <<: 5\n")
    line = _one_error(_run("policy", "validate", str(policy)))
    assert line.startswith(f"netcheck: error: {policy}:7: rules[0]: '<<' merges a mapping")
