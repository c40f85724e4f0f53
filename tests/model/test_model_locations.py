"""The location resolver: exact codes and names of one country, never a near match."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from melious_impact.model.locations import (
    _fold,
    _lookup,
    canonical_locations,
    country_codes,
    require_location,
    resolve_location,
)


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("AT", "AT"),
        ("at", "AT"),
        (" AUT ", "AT"),
        ("Austria", "AT"),
        ("  austria\t", "AT"),
        ("AUS", "AU"),
        ("Australia", "AU"),
        ("CHN", "CN"),
        ("CHE", "CH"),
        ("Switzerland", "CH"),
        ("EST", "EE"),
        ("ESP", "ES"),
        ("Czech Republic", "CZ"),
        ("Czechia", "CZ"),
        ("Côte d’Ivoire", "CI"),
        ("cote d'ivoire", "CI"),
        ("the Netherlands", "NL"),
        ("United Kingdom", "GB"),
        ("UK", "GB"),
        ("EL", "GR"),
        ("Türkiye", "TR"),
        ("FI-HEL1", "FI"),
        ("FR-PAR", "FR"),
        ("DE-BY", "DE"),
        ("SE-SE3", "SE"),
        ("US-CAL-CISO", "US"),
    ],
)
def test_resolves_codes_names_and_zones(text, code):
    assert resolve_location(text) == code


@pytest.mark.parametrize(
    "text",
    [
        "Austrai",  # misspelt: unknown, not Australia
        "Austr",
        "Aus tria",
        "Franc",
        "eu-west",
        "eu-west-1",
        "sa-east-1",  # a cloud region in Brazil, not Saudi Arabia
        "me-south-1",  # Bahrain, not Montenegro
        "fi-hel1",  # lower-case dashed strings are cloud-region shaped
        "EU",
        "XK",
        "Korea",  # two countries
        "ZZ",
        "",
        "   ",
        "AUTX",
        "FRA-X",
    ],
)
def test_unknown_is_none_never_a_near_match(text):
    assert resolve_location(text) is None
    with pytest.raises(ValueError, match="unknown location"):
        require_location(text)


def test_non_strings_are_unknown():
    for value in (None, 1, 3.5, float("nan"), b"FR"):
        assert resolve_location(value) is None


def test_table_is_the_249_iso_codes_without_clashes():
    table, codes = _lookup()
    assert len(codes) == 249 and len(country_codes()) == 249
    assert all(len(c) == 2 and c.isupper() for c in codes)
    assert set(table.values()) == set(codes)  # every entry answers one assigned code


def test_canonical_keeps_unknown_values_as_they_were():
    assert canonical_locations(["France", "fr", "FRA", "Atlantis", None]) == [
        "FR",
        "FR",
        "FR",
        "Atlantis",
        None,
    ]


_names = sorted(_lookup()[0])


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=12))
def test_any_text_resolves_only_to_an_exact_entry(text):
    code = resolve_location(text)
    if code is None:
        return
    table = _lookup()[0]
    folded = _fold(text)
    zone = text.strip()[:2]
    assert table.get(folded) == code or (zone == code and text.strip()[2] in "-_")


@settings(max_examples=300, deadline=None)
@given(
    name=st.sampled_from(_names),
    where=st.integers(min_value=0, max_value=40),
    edit=st.sampled_from(["drop", "double", "swap", "insert"]),
    letter=st.sampled_from("aeiouxqz"),
)
def test_misspelt_names_never_become_another_country(name, where, edit, letter):
    i = where % max(len(name), 1)
    if edit == "drop":
        typo = name[:i] + name[i + 1 :]
    elif edit == "double":
        typo = name[:i] + name[i : i + 1] * 2 + name[i + 1 :]
    elif edit == "swap" and i + 1 < len(name):
        typo = name[:i] + name[i + 1] + name[i] + name[i + 2 :]
    else:
        typo = name[:i] + letter + name[i:]
    code = resolve_location(typo)
    table = _lookup()[0]
    # a typo resolves only if it is itself an exact entry (e.g. dropping a letter of "AUT"
    # gives "AU", a real code): never to the country of the nearest spelling
    assert code is None or table.get(_fold(typo)) == code
