"""Text that reaches a terminal: what intake refuses, and what every output of the CLI neutralises.

A partner's description, a reviewer's question, a URL are shown raw on a reviewer's terminal, so a
control character in them is a command to that terminal: ESC sequences clear the screen, set the title,
colour a fake line, OSC 8 hides a link behind text, OSC 52 writes the clipboard, a carriage return
overwrites what was printed, bidi overrides show text in another order than it is stored.

Two rules, one set of characters each:

- ``refusal(text)``: intake (the API's bodies, the reviewer's own inputs) refuses C0 controls but newline
  and tab, DEL, C1 controls, bidi controls and lone surrogates. A CRLF is taken as a newline
  (``plain_text`` normalises it: web forms send text areas with CRLF); a lone CR is refused.
- ``safe(text)``: every terminal output shows anything unprintable or direction-changing that is stored
  anyway (data older than the rule, paths that never had it) as a visible ``⟦U+001B⟧``. It is wider
  than the intake rule: every control (Cc), surrogate (Cs), format character (Cf: bidi controls, zero-width
  space, word joiner, BOM, soft hyphen, tag characters) and line or paragraph separator, except the zero
  width joiner and non-joiner, which shape emoji and scripts and move nothing. Newline and tab stay when
  the layout wants them (``newlines=True``).
"""

from __future__ import annotations

import json
import unicodedata
from typing import Any

#: The bidi controls: embeddings and overrides, isolates, the marks, the Arabic letter mark.
BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c")
#: Format characters that safe() leaves alone: they join or separate glyphs and move nothing.
_JOINERS = frozenset("\u200c\u200d")
_ESCAPED_CATEGORIES = frozenset({"Cc", "Cs", "Cf", "Zl", "Zp"})
REFUSED_MESSAGE = "must not contain control characters (other than newline and tab) or bidirectional formatting"


def refused_character(char: str) -> bool:
    """Whether intake refuses ``char`` in free text: C0 but newline and tab, DEL, C1, bidi, surrogates."""
    code = ord(char)
    return (
        (code < 0x20 and char not in "\n\t")
        or 0x7F <= code <= 0x9F
        or char in BIDI_CONTROLS
        or 0xD800 <= code <= 0xDFFF
    )


def refusal(text: str) -> str | None:
    """Why intake refuses ``text`` (naming the first offending character), or None when it may be stored."""
    for char in text:
        if refused_character(char):
            return f"{REFUSED_MESSAGE}; found U+{ord(char):04X}"
    return None


def plain_text(text: str) -> str:
    """``text`` with CRLF as LF, or ValueError (pydantic's field error) when it holds a refused character."""
    text = text.replace("\r\n", "\n")
    problem = refusal(text)
    if problem:
        raise ValueError(problem)
    return text


def escaped(char: str, *, newlines: bool = True) -> bool:
    """Whether safe() shows ``char`` as an escape."""
    if char in "\n\t":
        return not newlines and char == "\n"
    return char not in _JOINERS and unicodedata.category(char) in _ESCAPED_CATEGORIES


def safe(text: str, *, newlines: bool = True) -> str:
    """``text`` with every control, format and separator character shown as ``⟦U+XXXX⟧``.

    Tab always stays; newline stays when ``newlines`` (else it is escaped too, so the result is one line).
    Idempotent: the escapes are printable.
    """
    if text.isprintable():  # the common case: no Cc, Cf, Cs, Zl, Zp at all (nor newline or tab)
        return text
    return "".join(f"⟦U+{ord(c):04X}⟧" if escaped(c, newlines=newlines) else c for c in text)


def line(text: str) -> str:
    """``text`` as one safe line (for stderr: every error is one line)."""
    return safe(text, newlines=False)


def json_text(value: Any) -> str:
    """``value`` as indented JSON that a terminal shows as it is: non-ASCII text stays readable
    (``ensure_ascii=False``), but every character safe() would escape is a JSON ``\\uXXXX`` escape, so the
    document still parses to the same data. json.dumps escapes only U+0000-U+001F itself; DEL, C1, bidi
    controls, separators and lone surrogates would reach the terminal raw.

    Only string contents can hold such characters (JSON's own syntax is ASCII), so escaping them in the
    dumped text escapes them inside strings."""
    dumped = json.dumps(value, indent=2, ensure_ascii=False, default=str)
    return "".join(_json_escape(c) if escaped(c) else c for c in dumped)


def _json_escape(char: str) -> str:
    code = ord(char)
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    code -= 0x10000  # a tag character, U+E0001 and up: a surrogate pair, as JSON spells it
    return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"
