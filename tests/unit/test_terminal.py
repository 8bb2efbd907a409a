"""Text that reaches a terminal: intake's rule for free text, and the neutralising of every output."""

from __future__ import annotations

import json
import unicodedata
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from kanal import terminal
from kanal.models import InfoReply, NewReport
from pydantic import ValidationError

from tests.support.console import BIDI, C0, C1, DANGEROUS, HOSTILE
from tests.support.reports import report_body

#: Text with every kind of character, weighted towards the dangerous ones.
TEXT = st.text(
    st.one_of(
        st.sampled_from(sorted(DANGEROUS)),
        st.sampled_from(["\n", "\t", "\r", "\u2028", "\u2029", "\u200b", "\u200d", "\ufeff", "\U000e0041", "\ud800"]),
        st.characters(),
    )
)


@given(TEXT)
@example(HOSTILE)
def test_safe_leaves_nothing_a_terminal_obeys(text: str) -> None:
    shown = terminal.safe(text)
    assert not DANGEROUS & set(shown)
    assert all(unicodedata.category(c) not in ("Cc", "Cs", "Zl", "Zp") or c in "\n\t" for c in shown)
    assert "\r" not in shown
    assert shown.count("\n") == text.count("\n")  # newlines kept where the layout wants them
    assert terminal.safe(shown) == shown  # idempotent: the escapes are printable
    one = terminal.line(text)
    assert "\n" not in one
    assert not DANGEROUS & set(one)


@given(st.text(st.characters(categories=["L", "M", "N", "P", "S"]).filter(str.isprintable)))
def test_safe_keeps_printable_text(text: str) -> None:
    assert terminal.safe(text) == text


def test_safe_shows_what_it_escaped() -> None:
    assert terminal.safe("a\x1b[2Jb") == "a⟦U+001B⟧[2Jb"
    assert terminal.safe("\u202eabc") == "⟦U+202E⟧abc"
    assert terminal.safe("x\ry") == "x⟦U+000D⟧y"
    assert terminal.line("a\nb\tc") == "a⟦U+000A⟧b\tc"
    assert terminal.safe("zero\u200bwidth\ufeff") == "zero⟦U+200B⟧width⟦U+FEFF⟧"
    family = "\U0001f468\u200d\U0001f469\u200d\U0001f467"  # joined by ZWJ: kept, it moves nothing
    assert terminal.safe(family) == family
    assert terminal.safe("Pemilu 2024 · Jakarta — “tenang”") == "Pemilu 2024 · Jakarta — “tenang”"


@given(
    st.recursive(
        st.one_of(st.none(), st.booleans(), st.integers(), TEXT),
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXT, inner, max_size=4),
        max_leaves=10,
    )
)
@example({"description": HOSTILE})
def test_json_output_is_safe_and_the_same_data(value: Any) -> None:
    shown = terminal.json_text(value)
    assert not DANGEROUS & set(shown)
    assert all(unicodedata.category(c) not in ("Cc", "Cs", "Cf", "Zl", "Zp") or c in "\n\u200c\u200d" for c in shown)
    assert json.loads(shown) == value


def test_json_output_keeps_indonesian_text_readable() -> None:
    assert json.loads(terminal.json_text({"d": "Kampanye di masa tenang — TPS 05"})) == {
        "d": "Kampanye di masa tenang — TPS 05"
    }
    assert "—" in terminal.json_text("—")
    assert terminal.json_text("\u202e\U000e0041") == '"\\u202e\\udb40\\udc41"'


@given(st.text(st.characters(exclude_characters=[*sorted(DANGEROUS), "\r"], exclude_categories=["Cs"])))
def test_intake_takes_text_without_controls(text: str) -> None:
    assert terminal.plain_text(text) == text


@pytest.mark.parametrize("char", [*C0, *C1, *BIDI])
def test_intake_refuses_controls_and_bidi_naming_them(char: str) -> None:
    with pytest.raises(ValueError, match=f"U\\+{ord(char):04X}"):
        terminal.plain_text(f"Video ini{char}palsu")


def test_intake_takes_crlf_as_a_newline_and_refuses_a_lone_cr() -> None:
    assert terminal.plain_text("baris satu\r\nbaris dua") == "baris satu\nbaris dua"
    with pytest.raises(ValueError, match="U\\+000D"):
        terminal.plain_text("baris satu\rbaris dua")
    with pytest.raises(ValueError, match="U\\+000D"):
        terminal.plain_text("\r\r\n")
    assert terminal.plain_text("zero\u200bwidth\u200d\ufeff") == "zero\u200bwidth\u200d\ufeff"  # taken: moves nothing


@pytest.mark.parametrize("field", ["description", "legal_basis", "partner_reference"])
@pytest.mark.parametrize("char", ["\x1b", "\r", "\x00", "\x7f", "\x9b", "\u202e", "\u2066", "\u200f", "\u061c"])
def test_a_report_refuses_controls_in_every_free_text_field(field: str, char: str) -> None:
    with pytest.raises(ValidationError) as raised:
        NewReport.model_validate(report_body(**{field: f"UU 7/2017{char} Pasal 280"}))
    assert [e["loc"] for e in raised.value.errors()] == [(field,)]
    assert NewReport.model_validate(report_body(**{field: "UU 7/2017\r\n\tPasal 280"})).model_dump()[field] == (
        "UU 7/2017\n\tPasal 280"
    )


@pytest.mark.parametrize("char", ["\x1b", "\r", "\u202e", "\u200b"])
def test_urls_refuse_controls_bidi_and_zero_width(char: str) -> None:
    with pytest.raises(ValidationError) as raised:
        NewReport.model_validate(
            report_body(
                content_url=f"https://www.tiktok.com/@akun{char}/video/7318301234567890123",
                evidence_urls=[f"https://www.bawaslu.go.id/a{char}b"],
            )
        )
    assert sorted(e["loc"] for e in raised.value.errors()) == [("content_url",), ("evidence_urls", 0)]


def test_an_answer_refuses_controls() -> None:
    with pytest.raises(ValidationError) as raised:
        InfoReply.model_validate({"message": "Di TPS 05\x1b]52;c;eA==\x07"})
    assert [e["loc"] for e in raised.value.errors()] == [("message",)]
    assert InfoReply.model_validate({"message": "Di TPS 05\r\nJakarta"}).message == "Di TPS 05\nJakarta"
