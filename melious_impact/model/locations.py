"""One resolver for the ``location`` of a request: a country, or nothing.

:func:`resolve_location` turns what a caller or the Melious API sends into the ISO-3166
alpha-2 code of a country, or returns ``None``. It never guesses: a string is either an
exact code or name of one country (after folding case, accents, punctuation and spaces),
or it is unknown. There is no prefix match and no nearest spelling: ``"AUT"`` is Austria,
``"AUS"`` Australia, and ``"Austrai"`` is unknown.

Accepted, case- and whitespace-insensitive:

- ISO-3166-1 alpha-2 (``"FR"``), alpha-3 (``"FRA"``) and English names (``"France"``,
  ``"Czech Republic"``, ``"Côte d'Ivoire"``), from the shipped table
  ``data/factors/countries.csv`` (the 249 assigned codes), plus the exceptionally reserved
  ``UK`` (GB) and ``EL`` (GR);
- a country code with a site or sub-zone suffix, as Melious providers and grid zones
  write them: ``"FI-HEL1"``, ``"DE-BY"``, ``"SE-SE3"``, ``"US-CAL-CISO"``. The country part
  must be an upper-case alpha-2 code as sent: lower-case dashed strings are the shape of
  cloud regions (``"sa-east-1"`` is in Brazil, ``"me-south-1"`` in Bahrain,
  ``"eu-west-1"`` in no one country), whose first letters name a continent, not a country,
  so they are unknown.

Everything else (``"eu-west"``, ``"Korea"``, ``""``, ``None``) is ``None``: callers report a
flagged gap (warning code ``location_unknown``) or raise, never another country's figure.
"""

from __future__ import annotations

import csv
import re
import unicodedata
from functools import lru_cache
from importlib import resources
from typing import Any

from melious_impact.errors import ModelError

_TABLE = "data/factors/countries.csv"
# ISO-3166-2 subdivisions and grid/site zones: "FI-HEL1", "DE-BY", "US-CAL-CISO".
_ZONE = re.compile(r"^([A-Z]{2})[-_][A-Z0-9]{1,10}(?:[-_][A-Z0-9]{1,10})*$")


def _fold(text: str) -> str:
    """Case, accents, punctuation and spacing folded away; nothing else changed."""
    plain = unicodedata.normalize("NFKD", text)
    plain = "".join(ch for ch in plain if not unicodedata.combining(ch)).casefold()
    plain = plain.replace("&", " and ").replace("'", "").replace("\u2019", "")
    plain = re.sub(r"[^0-9a-z]+", " ", plain).strip()
    return plain[4:] if plain.startswith("the ") else plain


@lru_cache(maxsize=1)
def _lookup() -> tuple[dict[str, str], frozenset[str]]:
    """Folded code or name -> alpha-2, and the set of alpha-2 codes (read on first use)."""
    text = resources.files("melious_impact").joinpath(_TABLE).read_text(encoding="utf-8")
    lines = [line for line in text.splitlines() if line and not line.startswith("#")]
    table: dict[str, str] = {}
    codes: set[str] = set()
    for row in csv.DictReader(lines):
        a2 = row["alpha2"]
        codes.add(a2)
        names = [row["alpha2"], row["alpha3"], row["name"], *filter(None, row["aliases"].split(";"))]
        for name in names:
            key = _fold(name)
            if table.get(key, a2) != a2:  # a name shared by two countries is no answer
                raise ModelError(f"country table names {name!r} for both {table[key]} and {a2}")
            table[key] = a2
    return table, frozenset(codes)


def country_codes() -> frozenset[str]:
    """The ISO-3166-1 alpha-2 codes the resolver knows (249)."""
    return _lookup()[1]


def resolve_location(location: Any) -> str | None:
    """The ISO-3166 alpha-2 code of ``location``, or None when it names no one country.

    Public as ``melious_impact.resolve_location``: the one resolver every part of the model
    (fit, predict, fill, scenario, the prior grid) and the report's optional lines use.
    Accepts an alpha-2 or alpha-3 code or an English name, folded for case, accents,
    punctuation and spacing, and an upper-case alpha-2 code with a site or zone suffix
    (``"FI-HEL1"``, ``"DE-BY"``). Anything else, a non-string included, is ``None``: there
    is no prefix or nearest-spelling match, so a caller reports a flagged gap
    (``location_unknown``) or raises, never another country's figure.

    >>> resolve_location("Austria"), resolve_location(" aut "), resolve_location("FI-HEL1")
    ('AT', 'AT', 'FI')
    >>> resolve_location("Austrai") is None, resolve_location("eu-west-1") is None
    (True, True)
    """
    if not isinstance(location, str):
        return None
    raw = location.strip()
    if not raw:
        return None
    table, codes = _lookup()
    hit = table.get(_fold(raw))
    if hit is not None:
        return hit
    zone = _ZONE.match(raw)
    if zone and zone.group(1) in codes:
        return zone.group(1)
    return None


def require_location(location: Any) -> str:
    """Like :func:`resolve_location`, but an unknown location raises ``ValueError``."""
    code = resolve_location(location)
    if code is None:
        raise ValueError(
            f"unknown location {location!r}: give an ISO-3166 country code (FR, FRA) or an "
            "English country name (France); a region spanning countries has no one grid"
        )
    return code


def canonical_locations(values: Any) -> list[Any]:
    """Each value as its alpha-2 code where it names a country, else unchanged.

    Used on the distinct locations of a frame, so that ``"France"``, ``"fr"`` and ``"FRA"``
    key the same cell; an unknown string stays as it was (its own key, never merged).
    """
    out: list[Any] = []
    for v in values:
        code = resolve_location(v)
        out.append(code if code is not None else v)
    return out
