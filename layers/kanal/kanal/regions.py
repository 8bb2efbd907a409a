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


def province_of(code: str) -> str:
    """The province code of a province or regency code."""
    return code.split(".", 1)[0]
