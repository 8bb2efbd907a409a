"""Evidence links (``evidence_urls``) as reviewers open them, tested against hostile URLs built from the parts that
fool URL checks: other schemes and their spellings, user information (``www.tiktok.com@evil.example``), IP addresses
in every spelling (dotted, decimal, hex, octal, IPv6 and IPv4-mapped, full-width digits, percent-escaped), names
under no public suffix or that are one, ports out of range or written oddly, and control or space characters
anywhere. Whatever is accepted is checked against an oracle that parses it again by other means."""

from __future__ import annotations

import ipaddress
import json
import re
import string
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from kanal.models import NewReport, _https_url
from publicsuffixlist import PublicSuffixList
from pydantic import ValidationError

from tests.support.reports import report_body

ICANN = PublicSuffixList(only_icann=True, accept_unknown=False)

# Each part is mostly what a good URL has (so that many drawn URLs are taken, and the oracle has work), else hostile.
SCHEMES = st.sampled_from(
    ["https"] * 8 + ["HTTPS", "Https", "http", "ftp", "javascript", "file", "hxxps", "https:", ""]
)
USERINFO = st.sampled_from([""] * 8 + ["www.tiktok.com@", "user:pass@", "@", ":@", "a@b@", "%40@"])
LABEL = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,12}[a-z0-9])?", fullmatch=True)
SUFFIX = st.sampled_from(
    ["go.id", "id", "com", "org", "co.uk", "github.io", "b", "zz", "local", "internal", "onion", "arpa", "test", ""]
)
NAMES = st.builds(lambda labels, suffix: ".".join([*labels, suffix]).strip("."), st.lists(LABEL, max_size=3), SUFFIX)
IPV4 = st.ip_addresses(v=4)
#: Digits and the full stop as their full-width forms (U+FF10-U+FF19, U+FF0E), which IDNA maps back.
FULL_WIDTH = str.maketrans("0123456789.", "".join(chr(0xFF10 + d) for d in range(10)) + "\uff0e")
IP_SPELLINGS = st.one_of(
    IPV4.map(str),
    IPV4.map(lambda a: str(int(a))),
    IPV4.map(lambda a: hex(int(a))),
    IPV4.map(lambda a: ".".join(hex(int(o)) for o in str(a).split("."))),
    IPV4.map(lambda a: ".".join(oct(int(o)).replace("o", "") for o in str(a).split("."))),
    IPV4.map(lambda a: str(a).translate(FULL_WIDTH)),
    IPV4.map(lambda a: "".join(f"%{ord(c):02X}" for c in str(a))),
    st.ip_addresses(v=6).map(lambda a: f"[{a}]"),
    IPV4.map(lambda a: f"[::ffff:{a}]"),
)
HOSTS = st.one_of(NAMES, NAMES, NAMES, IP_SPELLINGS, NAMES.map(lambda n: n + "."), NAMES.map(lambda n: n.upper()))
PORTS = st.one_of(
    st.just(""),
    st.just(""),
    st.just(":443"),
    st.integers(min_value=-1, max_value=70000).map(lambda p: f":{p}"),
    st.sampled_from([":", ":443", ":0443", ":+443", ": 443", ":443\n", ":٤٤٣"]),
)
TAIL = st.one_of(
    st.text(alphabet=string.ascii_letters + string.digits + "/?#%=&.-_~@:;", max_size=40),
    st.text(alphabet=string.ascii_letters + "/?#%@:\\ \t\r\n\x00\x1b\u202e\u00a0\u2028", max_size=40),
)
URLS = st.builds(lambda *parts: "{}://{}{}{}/{}".format(*parts), SCHEMES, USERINFO, HOSTS, PORTS, TAIL)


def holds_every_rule(url: str) -> bool:
    """The rules, checked by other means than kanal's: a regex split of the URL, ipaddress, the PSL."""
    if len(url) > 2048 or not url.isprintable() or any(c.isspace() for c in url):
        return False
    match = re.fullmatch(r"(?i:https)://([^/?#]*)(.*)", url)
    if not match:
        return False
    authority = match.group(1)
    if "@" in authority or authority.startswith("["):
        return False
    host, _, port = authority.partition(":")
    if port and port != "443":
        return False
    try:
        ipaddress.ip_address(host)
        return False
    except ValueError:
        pass
    try:
        ascii_host = host.encode("idna").decode().lower()
    except UnicodeError:
        return False
    top = ascii_host.rsplit(".", 1)[-1]
    return top.isalpha() or top.startswith("xn--") if ICANN.privatesuffix(ascii_host) else False


@settings(max_examples=400)
@given(url=URLS)
def test_a_hostile_url_is_refused_and_whatever_is_taken_holds_every_rule(url: str) -> None:
    try:
        taken = _https_url(url)
    except ValueError:
        return
    assert taken == url
    assert holds_every_rule(url), url


def refused_at(body: dict[str, Any]) -> set[Any]:
    """Where a report body is refused (empty: taken)."""
    try:
        NewReport.model_validate_json(json.dumps(body))
    except ValidationError as error:
        return {e["loc"] for e in error.errors()}
    return set()


@given(url=URLS, at=st.integers(min_value=0, max_value=30))
def test_the_api_names_the_list_item_it_refuses(url: str, at: int) -> None:
    good = "https://www.bawaslu.go.id/temuan/1"
    urls = [good] * (at % 10) + [url]
    refused = refused_at(report_body(evidence_urls=urls))
    assert refused == (set() if holds_every_rule(url) else {("evidence_urls", len(urls) - 1)})


@pytest.mark.parametrize(
    "url",
    [
        "https://www.tiktok.com@evil.example/login",
        "https://169.254.169.254/latest/meta-data/iam/security-credentials/",
        "https://a.b:99999/",
        "https://2852039166/",
        "https://0xa9.0xfe.0xa9.0xfe/",
        "https://0251.0376.0251.0376/",
        "https://[fd00:ec2::254]/",
        "https://go.id/",
        "https://bawaslu.go.id./",
        "https://www.bawaslu.go.id:443@evil.example/",
    ],
)
def test_the_issues_examples_and_their_cousins_are_refused(url: str) -> None:
    with pytest.raises(ValueError, match="must"):
        _https_url(url)
