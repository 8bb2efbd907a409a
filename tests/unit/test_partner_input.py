"""Input shaped by an attacker, the rules: every validator that sees partner input takes time linear in it, every
date is stored within its bounds or refused, a cursor decodes or is refused, only application/json in UTF-8 is JSON,
and every route with a body documents 413, 415 and 422 (the API's answers on moto:
tests/component/test_partner_input.py).

Time is never asserted: ``pytest.mark.timeout`` only turns a regression (a backtracking pattern, a
quadratic loop) into a failure instead of a hang.
"""

from __future__ import annotations

import base64
import contextlib
import string
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from kanal import content, partners
from kanal.calendar import default_calendar
from kanal.entrypoints import routing
from kanal.entrypoints.intake_function import app, decode_cursor, encode_cursor
from kanal.errors import InvalidRequest
from kanal.intake import Intake
from kanal.models import InfoReply, NewReport, _https_url
from pydantic import ValidationError

from tests.support.fakes import MemoryCases, MemoryReports
from tests.support.reports import ANY_AWARE, EDGES, MOMENTS, NOW, report_body, within_bounds

HANG = pytest.mark.timeout(30)  # each case takes milliseconds and a regression minutes; this machine is shared
RUNS = {
    "dots": ".",
    "slashes": "/",
    "a": "a",
    "mixed": "a.-/@:%[",
    "quotes": '"\\',
    "semicolons": ";a=",
}
SIZES = {"2KB": 2048, "64KB": 65536}
ADVERSARIAL = [
    pytest.param((unit * (size // len(unit) + 1))[:size], id=f"{name}-{label}")
    for name, unit in RUNS.items()
    for label, size in SIZES.items()
]


@pytest.fixture(autouse=True)
def _fixed_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("kanal.clock.now", lambda: NOW)


def refused(call: Callable[[], object]) -> bool:
    """Whether ``call`` refused its input the way its validator refuses (anything else propagates)."""
    try:
        call()
    except (ValueError, ValidationError, InvalidRequest):  # ValidationError is a ValueError, named for clarity
        return True
    return False


def new_report(**changes: Any) -> NewReport:
    return NewReport.model_validate(report_body(**changes))


# Every partner-facing validator or parser, each with an input built around the adversarial run that
# it must refuse (True: refused). The property guarded is that the verdict comes in linear time.
VALIDATORS: dict[str, Callable[[str], bool]] = {
    "evidence url": lambda run: refused(lambda: _https_url(f"https://{run}"[:2048])),
    "evidence url, path": lambda run: refused(lambda: _https_url(f"https://a.example.org/{run}"[:2047] + " ")),
    # Untrimmed: the pattern this replaces took ~75 ms for 2 KB of dots and a space, and ~75 s for 64 KB.
    "evidence url, untrimmed": lambda run: refused(lambda: _https_url(f"https://{run} ")),
    "evidence url, body": lambda run: refused(
        lambda: InfoReply.model_validate({"message": "m", "evidence_urls": [f"https://{run}"]})
    ),
    "content url": lambda run: refused(lambda: new_report(content_url=f"https://{run}")),
    "region code": lambda run: refused(lambda: new_report(region_code=run)),
    "election": lambda run: refused(lambda: new_report(election=run)),
    "observed_at": lambda run: refused(lambda: new_report(observed_at=f"2026-11-23T09:40:00{run}")),
    "cursor": lambda run: refused(
        lambda: decode_cursor(base64.urlsafe_b64encode(f"2026-11-23T00:00:00+00:00{run}".encode()).decode())
    ),
    "content type": lambda run: not routing.is_json(f"application/json; {run}") and not routing.is_json(run),
    "bearer key": lambda run: partners.bearer_key(f"Bearer {run}") is None,
}


@HANG
@pytest.mark.parametrize("run", ADVERSARIAL)
@pytest.mark.parametrize("validator", list(VALIDATORS))
def test_validators_refuse_adversarial_input_in_linear_time(validator: str, run: str) -> None:
    assert VALIDATORS[validator](run)


@HANG
@pytest.mark.parametrize("run", ADVERSARIAL)
def test_tiktok_paths_are_keyed_in_linear_time(run: str) -> None:
    # content.py's path patterns are anchored with one quantifier each before a literal: linear. This
    # keeps them so (content.py is being rewritten elsewhere; the module's contract stays content_key).
    url = f"https://www.tiktok.com/@{run}/video/{'1' * len(run)}x"
    with contextlib.suppress(ValueError):  # a key, or a refusal (a video-shaped URL with a broken id), at once
        assert content.content_key(url)


@HANG
@pytest.mark.parametrize("size", list(SIZES.values()), ids=list(SIZES))
@pytest.mark.parametrize(
    ("unit", "expected"),
    [
        ('{"a":1,"a":2},', ["body[0].a"]),  # many objects, each repeating
        ("[", []),  # nested deeper than Python's parser goes
        ('{"a":', []),  # not JSON
        ('"\\u0000', []),
    ],
)
def test_repeated_members_in_linear_time(unit: str, expected: list[str], size: int) -> None:
    text = unit * (size // len(unit))
    raw = f"[{text.rstrip(',')}]" if unit.startswith("{") else text
    assert routing.repeated_members(raw.encode())[:1] == expected


# Evidence URLs ----------------------------------------------------------------------------------------

LABEL = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,20}[a-z0-9])?", fullmatch=True)
#: Public suffixes (ICANN's part of the Public Suffix List): a label under one is a registrable domain.
TLD = st.sampled_from(["id", "go.id", "co.id", "or.id", "ac.id", "com", "org", "net", "co.uk", "xn--q9jyb4c", "info"])
HOST = st.builds(lambda labels, tld: ".".join([*labels, tld]), st.lists(LABEL, min_size=1, max_size=4), TLD)
TAIL = st.text(alphabet=string.ascii_letters + string.digits + "-._~/?#%=&+", max_size=200).map(
    lambda tail: "/" + tail if tail else ""
)


@given(host=HOST, port=st.sampled_from(["", ":443"]), tail=TAIL)
def test_https_urls_on_public_host_names_are_accepted(host: str, port: str, tail: str) -> None:
    url = f"https://{host}{port}{tail}"
    assert _https_url(url) == url
    assert _https_url(url.replace("https", "HTTPS", 1)) == url.replace("https", "HTTPS", 1)


@given(host=HOST, user=st.sampled_from(["www.tiktok.com", "user:pass", "a", "", ":"]), tail=TAIL)
def test_user_names_and_passwords_are_refused(host: str, user: str, tail: str) -> None:
    with pytest.raises(ValueError, match="user name or password"):
        _https_url(f"https://{user}@{host}{tail}")


@given(host=HOST, port=st.integers(min_value=0, max_value=10**6).filter(lambda port: port != 443))
def test_ports_other_than_443_are_refused(host: str, port: int) -> None:
    # Evidence links are opened by reviewers: a public page is served on 443; another port usually means
    # an internal service or a probe, so only 443 (or none) is taken.
    with pytest.raises(ValueError, match="port"):
        _https_url(f"https://{host}:{port}/")


@given(address=st.ip_addresses(), tail=TAIL)
def test_ip_addresses_are_refused(address: Any, tail: str) -> None:
    literal = f"[{address}]" if address.version == 6 else str(address)
    with pytest.raises(ValueError, match="public host"):
        _https_url(f"https://{literal}{tail}")


@given(
    host=HOST,
    tail=TAIL,
    where=st.integers(min_value=0),
    bad=st.characters(categories=["Cc", "Cf", "Zs", "Zl", "Zp"]),
)
def test_whitespace_and_control_characters_are_refused_anywhere(host: str, tail: str, where: int, bad: str) -> None:
    url = f"https://{host}{tail}"
    at = where % (len(url) + 1)
    with pytest.raises(ValueError, match="spaces or control characters"):
        _https_url(url[:at] + bad + url[at:])


@given(tail=st.text(max_size=300))
def test_any_text_is_accepted_as_is_or_refused_with_a_value_error(tail: str) -> None:
    url = f"https://{tail}"
    with contextlib.suppress(ValueError):  # a refusal; any other exception fails the test
        assert _https_url(url) == url


@pytest.mark.parametrize(
    "url",
    [
        "https://www.tiktok.com@evil.example/login",
        "https://a.b:99999/",
        "https://a.b:+443/",
        "https://a.b/",  # under no public suffix
        "https://go.id/",  # a public suffix itself, registrable by nobody
        "https://www.kpu.zz/",
        "https://169.254.169.254/latest/meta-data/",
        "https://\uff11\uff16\uff19\uff0e\uff12\uff15\uff14\uff0e\uff11\uff16\uff19\uff0e\uff12\uff15\uff14/",
        "https://0x7f.1/",
        "https://2130706433/",
        "https://[::ffff:169.254.169.254]/",
        "https://[v1.x]/",
        "https://localhost/",
        "https://metadata.google.internal/",
        "https://printer.local/",
        "https://a_b.example.org/",
        "https://-a.example.org/",
        "https://a..example.org/",
        "https://example.org./",
        "https://a.b\\@c.example.org/",
        "https://%31%36%39.254.169.254/",
        f"https://{'a' * 64}.example.org/",
        "https:a.example.org",
        "https:///a.example.org",
        "http://a.example.org/",
        "ftp://a.example.org/",
        "https://a.example.org/" + "x" * 2048,
    ],
)
def test_evidence_urls_that_are_refused(url: str) -> None:
    with pytest.raises(ValueError, match="must"):
        _https_url(url)


@pytest.mark.parametrize(
    "url",
    [
        "https://www.kpu.go.id/berita/baca/12345?ref=tiktok#bagian-2",
        "https://bawaslu.go.id:443/",
        "https://münchen.example.org/",  # IDNA: xn--mnchen-3ya
        "https://xn--mnchen-3ya.example.org/",
        "https://contoh.みんな/",  # an internationalized top-level name
        "https://WWW.KPU.GO.ID/",
    ],
)
def test_evidence_urls_that_are_accepted(url: str) -> None:
    assert _https_url(url) == url


# Dates -------------------------------------------------------------------------------------------------


@given(moment=MOMENTS)
@example(moment=EDGES[0])
@example(moment=EDGES[1])
def test_observed_at_is_stored_within_its_bounds_and_refused_outside(moment: datetime) -> None:
    intake = Intake(MemoryReports(), MemoryCases(), default_calendar())
    text = moment.isoformat()
    if within_bounds(moment, NOW):
        assert intake.submit("p_a", new_report(observed_at=text), NOW).stored
        return
    try:
        body = new_report(observed_at=text)
    except ValidationError as error:
        refused_fields = [e["loc"] for e in error.errors()]
    else:
        with pytest.raises(InvalidRequest) as raised:
            intake.submit("p_a", body, NOW)
        refused_fields = [(raised.value.field,)]
    assert refused_fields == [("observed_at",)]


@given(moment=st.one_of(ANY_AWARE, st.sampled_from(EDGES), st.datetimes()), report_id=st.text(max_size=30))
def test_cursors_decode_to_a_utc_position_or_are_refused(moment: datetime, report_id: str) -> None:
    cursor = base64.urlsafe_b64encode(f"{moment.isoformat()}|{report_id}".encode("utf-8", "surrogatepass")).decode()
    try:
        representable = moment.tzinfo is not None and bool(moment.astimezone(UTC)) and report_id != ""
        text = f"{moment.isoformat()}|{report_id}".encode()
    except (OverflowError, UnicodeEncodeError):  # no UTC equivalent; an unpaired surrogate
        representable = False
    if not representable:
        with pytest.raises(InvalidRequest) as raised:
            decode_cursor(cursor.rstrip("="))
        assert raised.value.field == "cursor"
        return
    when, after = decode_cursor(cursor.rstrip("="))
    assert (when, after) == (moment, report_id)
    assert when.utcoffset() == timedelta(0)
    assert decode_cursor(encode_cursor((when, after))) == (when, after)
    assert base64.urlsafe_b64decode(cursor) == text


# Content types and codings ------------------------------------------------------------------------------

TYPES = ["application/json", "application/problem+json", "application/evil+json", "text/json", "application/jsonx"]
CHARSETS = [None, "utf-8", "UTF-8", '"utf-8"', "latin-1", "iso-8859-1", "utf-16", "utf8"]


@given(
    kind=st.sampled_from(TYPES),
    charset=st.sampled_from(CHARSETS),
    extra=st.sampled_from([None, "foo=bar", "charset=utf-8"]),
    upper=st.booleans(),
    space=st.sampled_from(["", " ", "  "]),
)
def test_only_application_json_in_utf_8_is_json(
    kind: str, charset: str | None, extra: str | None, upper: bool, space: str
) -> None:
    header_value = kind + "".join(
        f"{space};{space}{p}" for p in (f"charset={charset}" if charset else None, extra) if p
    )
    header_value = header_value.upper() if upper else header_value
    expected = (
        kind == "application/json"
        and (charset is None or charset.strip('"').lower() == "utf-8")
        and (extra is None or (extra == "charset=utf-8" and charset is None))
    )
    assert routing.is_json(header_value) is expected


# The document ----------------------------------------------------------------------------------------------


def test_every_route_with_a_body_documents_413_415_and_422() -> None:
    operations = [
        app.openapi["paths"][route.resource][route.method.lower()]
        for route in app.routes.values()
        if route.documented and route.body is not None
    ]
    assert len(operations) == 5  # POST /v1/reports, its /batch, /v1/reports/{id}/info and /evidence, /v1/webhooks
    for operation in operations:
        assert {"413", "415", "422"} <= set(operation["responses"])
