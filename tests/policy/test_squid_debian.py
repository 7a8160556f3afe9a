"""Debian's squid.conf as the package ships it: comments after a value on the same line
(``acl localnet src 10.0.0.0/8  # RFC 1918 ...``) and the ACLs squid predefines (localhost,
manager, to_localhost, CONNECT) used without being defined. The importer read the comment
as values ('#' is not an address) and refused the predefined names; real squid 5 starts on
this file and is asked for every decision below (needs root and squid, as
test_policy_squid_real), except to_localhost, which needs DNS there."""

from __future__ import annotations

from pathlib import Path

from netcheck.policy.importers.squid import parse
from tests.policy.test_policy_squid_real import HOSTS, RealSquid, _agree, squid_for

__all__ = ["squid_for"]  # the fixture, used by name

# the access section of Debian's squid 5.7 squid.conf (comments shortened), the agency's
# rule added where Debian says to, and the test client (127.0.0.1) in localnet
DEBIAN = """\
acl localnet src 0.0.0.1-0.255.255.255	# RFC 1122 "this" network (LAN)
acl localnet src 10.0.0.0/8		# RFC 1918 local private network (LAN)
acl localnet src fe80::/10      	# RFC 4291 link-local (directly plugged) machines
acl SSL_ports port 443
acl Safe_ports port 80		# http
acl Safe_ports port 443		# https
acl Safe_ports port 1025-65535	# unregistered ports
http_access deny !Safe_ports
http_access deny CONNECT !SSL_ports
http_access allow localhost manager
http_access deny manager
#http_access deny to_localhost
acl social dstdomain .facebook.com .tiktok.com # social networks: the ministry's rule
acl ads dstdom_regex -i (^|\\.)doubleclick\\.net$ #tracking
http_access deny social
http_access deny ads	#and the ads
http_access allow localnet
http_access allow localhost
http_access deny all
"""


def test_comments_after_values_are_comments_and_predefined_acls_are_known() -> None:
    config = parse(DEBIAN, "squid.conf")
    assert [v.text for v in config.acls["localnet"].values] == [
        "0.0.0.1-0.255.255.255",
        "10.0.0.0/8",
        "fe80::/10",
    ]
    assert [v.text for v in config.acls["social"].values] == [".facebook.com", ".tiktok.com"]
    assert [v.text for v in config.acls["ads"].values] == ["(^|\\.)doubleclick\\.net$"]
    blocked = config.decide("https://www.facebook.com/")
    assert (blocked.action, blocked.line) == ("block", 15)
    assert config.decide("https://stats.doubleclick.net/").line == 16
    config.client = "192.0.2.1"  # not in localnet, not localhost: the last line denies
    assert config.decide("https://www.youtube.com/").line == 19
    # the manager ACL matches squid's own manager URLs, not pages
    assert config.decide("http://proxy.example/squid-internal-mgr/info").line == 11
    # to_localhost is a dst ACL (it needs DNS for a name, so real squid is not asked below)
    config = parse("http_access deny to_localhost\nhttp_access allow all\n", "squid.conf")
    assert config.decide("http://127.0.0.1:8080/").line == 1
    assert config.decide("http://192.0.2.1/").line == 2


def test_a_hash_inside_a_word_or_quotes_is_not_a_comment(tmp_path: Path) -> None:
    (tmp_path / "list#1.txt").write_text("youtube.com\n")
    text = (
        'acl yt dstdomain "list#1.txt"  # quoted file name\n'
        "acl frag url_regex ^http://a\\.example/#x\n"
        "http_access deny yt\nhttp_access deny frag\nhttp_access allow all\n"
    )
    config = parse(text, str(tmp_path / "squid.conf"))
    assert [v.text for v in config.acls["yt"].values] == ["youtube.com"]
    assert [v.text for v in config.acls["frag"].values] == ["^http://a\\.example/#x"]


def test_the_importer_agrees_with_real_squid_on_debians_config(
    tmp_path: Path, squid_for: list[RealSquid]
) -> None:
    squid = RealSquid(tmp_path / "squid", DEBIAN)
    squid_for.append(squid)
    assert _agree(squid, DEBIAN, tmp_path / "squid.conf", ["/", "/watch?v=1"]) == (len(HOSTS) * 3)
