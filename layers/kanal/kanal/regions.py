"""Indonesia's 38 provinces and 514 regencies/cities (idn-area-data, ODbL; see data/regions)."""

from __future__ import annotations

import csv
from functools import cache
from importlib import resources


@cache
def _names() -> dict[str, str]:
    names: dict[str, str] = {}
    folder = resources.files("kanal") / "data" / "regions"
    for filename in ("provinces.csv", "regencies.csv"):
        with (folder / filename).open(encoding="utf-8") as rows:
            for row in csv.DictReader(rows):
                names[row["code"]] = row["name"]
    return names


def exists(code: str) -> bool:
    """Whether ``code`` is a province ('31') or a regency/city ('31.71') on the official list."""
    return code in _names()


def name(code: str) -> str:
    """The official name of a region code (KeyError for an unknown code)."""
    return _names()[code]


_PREFIXES = (
    ("KABUPATEN ADMINISTRASI ", "Kab. Adm. "),
    ("KOTA ADMINISTRASI ", "Kota Adm. "),
    ("KABUPATEN ", "Kab. "),
    ("KOTA ", "Kota "),
)
_KEPT = {"DKI": "DKI", "DAN": "dan"}


def display_name(code: str) -> str:
    """A region's name as people write it ('Kota Adm. Jakarta Pusat', 'Kab. Aceh Selatan', 'DKI Jakarta'), not
    the dataset's capitals; the code itself for an unknown code."""
    official = _names().get(code)
    if official is None:
        return code
    lead = ""
    for prefix, short in _PREFIXES:
        if official.startswith(prefix):
            lead, official = short, official[len(prefix) :]
            break
    words = [_KEPT.get(word, "-".join(part.capitalize() for part in word.split("-"))) for word in official.split()]
    return lead + " ".join(words)


def province_of(code: str) -> str:
    """The province code of a province or regency code."""
    return code.split(".", 1)[0]
