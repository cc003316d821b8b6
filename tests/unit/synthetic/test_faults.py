"""Fault primitives: every fault is real (differs, fails to parse, fails to decode)."""

from __future__ import annotations

import json
import random

import pytest

from crm_lakehouse.synthetic import faults


def _edit_distance(a: str, b: str) -> int:
    """Damerau-Levenshtein (optimal string alignment) distance."""
    d = [[0] * (len(b) + 1) for _ in range(len(a) + 1)]
    for i in range(len(a) + 1):
        d[i][0] = i
    for j in range(len(b) + 1):
        d[0][j] = j
    for i in range(1, len(a) + 1):
        for j in range(1, len(b) + 1):
            cost = a[i - 1] != b[j - 1]
            d[i][j] = min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                d[i][j] = min(d[i][j], d[i - 2][j - 2] + 1)
    return d[len(a)][len(b)]


@pytest.mark.parametrize(
    ("name", "base", "suffix"),
    [
        ("Northwind Logistics Inc.", "Northwind Logistics", "Inc."),
        ("Apex Stone Labs GmbH", "Apex Stone Labs", "GmbH"),
        ("Bluewave Analytics", "Bluewave Analytics", ""),
        ("Ironspan S.A.", "Ironspan", "S.A."),
    ],
)
def test_name_variant_differs_and_keeps_the_core_name(name: str, base: str, suffix: str) -> None:
    r = random.Random(1)
    for _ in range(200):
        v = faults.name_variant(name, base, suffix, r)
        assert v != name
        assert base.split()[0].lower() in v.lower()


def test_typo_is_one_edit() -> None:
    r = random.Random(2)
    for word in ("Northwind Logistics", "Müller", "Ann", "O'Brien", "Calle Mayor, 12"):
        for _ in range(200):
            out = faults.typo(word, r)
            assert out != word and _edit_distance(word, out) == 1


def test_domain_and_email_variants_differ_but_name_the_same_host() -> None:
    r = random.Random(3)
    for _ in range(300):
        v = faults.domain_variant("acme-corp.co.uk", r)
        assert v != "acme-corp.co.uk"
        assert v == "" or "acme-corp.co.uk" in v.lower()
        e = faults.email_variant("jane.doe@acme.com", r)
        assert e != "jane.doe@acme.com" and e.strip().lower() == "jane.doe@acme.com"


def test_malformed_csv_never_parses_to_the_declared_width() -> None:
    r = random.Random(4)
    values = [
        "001A0000006Vm9rIAC",
        "Acme, Inc.",
        "acme.com",
        "+1 415 555 0134",
        "1 Main St",
        "Boston",
        "MA",
    ]
    variants = set()
    for _ in range(500):
        frags, variant = faults.malformed_csv(values, [1, 4, 5], r)
        variants.add(variant)
        line = ",".join(frags)
        assert line.startswith(values[0] + ",")
        assert faults.csv_columns(line) != len(values)
        assert faults.csv_columns(line, strict=True) != len(values)
    assert variants == set(faults.CSV_MALFORMED)


def test_malformed_json_never_loads_and_keeps_the_id() -> None:
    r = random.Random(5)
    line = json.dumps(
        {"id": "123", "createdAt": 1, "properties": {"name": "Acme", "city": "Köln"}},
        ensure_ascii=False,
        separators=(",", ":"),
    )
    variants = set()
    for _ in range(500):
        out, variant = faults.malformed_json(line, line.index(","), r)
        variants.add(variant)
        assert out.startswith('{"id":"123"')
        with pytest.raises(ValueError):
            json.loads(out)
    assert variants == set(faults.JSON_MALFORMED)


@pytest.mark.parametrize("text", ["Müller", "Société Générale", "Acme Inc", "Acme", "x", "Ã©"])
def test_corrupt_utf8_is_invalid_and_keeps_structure(text: str) -> None:
    r = random.Random(6)
    for _ in range(50):
        data = faults.corrupt_utf8(text, r)
        with pytest.raises(UnicodeDecodeError):
            data.decode("utf-8")
        assert not set(data) & set(b'",\\\n\r')
