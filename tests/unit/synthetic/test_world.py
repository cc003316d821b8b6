"""The true world: keyed randomness, ids, realistic and consistent attribute values."""

from __future__ import annotations

import math
import re
from pathlib import Path

import phonenumbers
import pytest

from crm_lakehouse.synthetic import GenerationReport, generate, vocab, world
from crm_lakehouse.synthetic.rand import mix, scramble, sf_checksum, unit
from crm_lakehouse.synthetic.render import format_phone, money_text
from tests.unit.synthetic._support import DEFAULT_RATES, ZERO_RATES, read_csv, read_lines
from tests.unit.synthetic.conftest import DAY1

Days = tuple[Path, GenerationReport, GenerationReport]


def test_mix_is_stable_and_spreads() -> None:
    assert mix(1, 2, 3) == mix(1, 2, 3)
    assert len({mix(42, i, j) for i in range(100) for j in range(100)}) == 10_000
    assert mix(-1) != mix(1) and mix(2**70) != mix(2**6)
    mean = sum(unit(7, i) for i in range(10_000)) / 10_000
    assert mean == pytest.approx(0.5, abs=0.02)


def test_scramble_is_a_bijection() -> None:
    assert sorted(scramble(i, 1000, 7_777_777_777 % 1000, 17) for i in range(1000)) == list(
        range(1000)
    )
    assert math.gcd(world.NAME_CYCLE, world.NAME_MULTIPLIER) == 1


def test_salesforce_checksum_matches_a_real_id() -> None:
    assert sf_checksum("001A0000006Vm9r") == "IAC"


def test_ids_are_realistic(two_days: Days) -> None:
    landing, _, _ = two_days
    prefixes = {"accounts": "001", "contacts": "003", "leads": "00Q", "opportunities": "006"}
    for r in read_csv(landing / "_truth" / DAY1 / "source_records.csv"):
        sid = r["source_id"]
        if r["source"] == "salesforce":
            assert len(sid) == 18 and sid.startswith(prefixes[r["entity"]])
            assert sf_checksum(sid[:15]) == sid[15:]
        elif r["source"] == "hubspot":
            assert sid.isdigit()


def test_truth_values_are_valid_and_consistent(two_days: Days) -> None:
    landing, _, _ = two_days
    companies = read_csv(landing / "_truth" / DAY1 / "companies.csv")
    people = read_csv(landing / "_truth" / DAY1 / "people.csv")
    sectors = {i.sector for i in vocab.INDUSTRIES}
    domains = [c["domain"] for c in companies if c["domain"]]
    assert len(domains) == len(set(domains)), "two companies share a domain"
    assert len({c["name"] for c in companies}) == len(companies)
    assert 0.8 < len(domains) / len(companies) < 1.0
    for c in companies:
        number = phonenumbers.parse(c["phone"])
        assert phonenumbers.is_valid_number(number), c["phone"]
        assert phonenumbers.region_code_for_number(number) == c["country"] or c["country"] == "CA"
        lo, _, hi = c["industry"].partition("-")
        assert c["industry"] in sectors and int(lo) <= int(c["naics"][:2]) <= int(hi or lo)
        assert int(c["revenue_usd"]) >= 100_000 and int(c["employees"]) >= 1
        assert c["country"] in vocab.COUNTRY_BY_ISO2
    emails = [p["email"] for p in people]
    assert len(emails) == len(set(emails))
    for p in people:
        assert phonenumbers.is_valid_number(phonenumbers.parse(p["phone"])), p["phone"]
        assert re.fullmatch(r"[a-z0-9._]+@[a-z0-9.-]+\.[a-z]+", p["email"]), p["email"]


def test_source_formats(two_days: Days) -> None:
    landing, _, _ = two_days
    _, accounts = read_lines(landing / "salesforce" / DAY1 / "accounts.csv")
    rows = [ln.parsed for ln in accounts if isinstance(ln.parsed, list)]
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.000Z", r[15]) for r in rows)
    assert {r[13] for r in rows} == {"false"}
    assert (
        0.25 < sum(1 for r in rows if not r[2]) / len(rows) < 0.55
    )  # many accounts lack a website
    assert len({r[8] for r in rows if r[8]}) > 10  # countries spelled many ways
    _, opps = read_lines(landing / "salesforce" / DAY1 / "opportunities.csv")
    stages = {s[0]: s for s in vocab.STAGES}
    currencies = set()
    for ln in opps:
        if isinstance(ln.parsed, list):
            _, prob, closed, won = stages[ln.parsed[3]]
            assert ln.parsed[6:7] == [str(prob)] and ln.parsed[8:10] == [
                str(closed).lower(),
                str(won).lower(),
            ]
            currencies.add(ln.parsed[5])
    assert {"USD", "EUR", "GBP"} <= currencies
    _, hs = read_lines(landing / "hubspot" / DAY1 / "companies.jsonl")
    ranges = {f"{lo}-{hi}" if hi else f"{lo}+" for lo, hi in vocab.EMPLOYEE_BUCKETS}
    for ln in hs:
        if isinstance(ln.parsed, dict):
            assert isinstance(ln.parsed["createdAt"], int) and ln.parsed["archived"] is False
            props = ln.parsed["properties"]
            assert props["numberofemployees"] in ranges | {None}
    _, prov_c = read_lines(landing / "provider_c" / DAY1 / "firmographics.csv")
    for ln in prov_c:
        if isinstance(ln.parsed, list) and ln.parsed[4]:
            assert re.fullmatch(r"\$\d+(\.\d+)?[KMB]", ln.parsed[4]), ln.parsed[4]
            assert re.fullmatch(r"\d\d/\d\d/\d{4}", ln.parsed[7])


@pytest.mark.parametrize(
    ("revenue", "text"),
    [(850_000, "$850K"), (1_200_000, "$1.2M"), (12_300_000, "$12.3M"), (3_450_000_000, "$3.45B")],
)
def test_provider_c_money_text(revenue: int, text: str) -> None:
    assert money_text(revenue) == text


@pytest.mark.parametrize(
    ("e164", "iso2"),
    [
        ("+14155550134", "US"),
        ("+493012345678", "DE"),
        ("+442079460958", "GB"),
        ("+33123456789", "FR"),
    ],
)
def test_national_phone_formats_parse_back(e164: str, iso2: str) -> None:
    country = vocab.COUNTRY_BY_ISO2[iso2]
    seen = set()
    for i in range(40):
        text = format_phone(e164, country, i / 40)
        seen.add(text)
        assert (
            phonenumbers.format_number(
                phonenumbers.parse(text, iso2), phonenumbers.PhoneNumberFormat.E164
            )
            == e164
        )
    assert len(seen) >= 5


def test_expected_records_per_company_matches_the_tables() -> None:
    # scale / expected gives the number of companies; a change to the tables moves both
    assert 6 < world.expected_records_per_company() < 9
    assert world.companies_for_scale(1) == 1
    assert world.companies_for_scale(1_000_000) == round(
        1_000_000 / world.expected_records_per_company()
    )


def test_fault_rates_do_not_change_the_world(tmp_path: Path) -> None:
    """Faults are drawn apart from the world, so quality can be compared across fault rates."""
    clean = generate(tmp_path / "clean", scale=1500, seed=6, date=DAY1, faults=ZERO_RATES)
    dirty = generate(tmp_path / "dirty", scale=1500, seed=6, date=DAY1, faults=DEFAULT_RATES)
    for name in ("companies.csv", "people.csv"):
        assert (clean.landing / "_truth" / DAY1 / name).read_bytes() == (
            dirty.landing / "_truth" / DAY1 / name
        ).read_bytes()

    def ids(landing: Path) -> list[tuple[str, ...]]:
        rows = read_csv(landing / "_truth" / DAY1 / "source_records.csv")
        return [(r["source"], r["entity"], r["source_id"], r["true_id"]) for r in rows]

    assert ids(clean.landing) == ids(dirty.landing)


def test_children_are_created_after_their_account(two_days: Days) -> None:
    landing, _, _ = two_days
    created: dict[str, str] = {}
    for entity in ("accounts", "contacts", "opportunities"):
        header, lines = read_lines(landing / "salesforce" / DAY1 / f"{entity}.csv")
        assert header is not None
        for ln in lines:
            if not isinstance(ln.parsed, list):
                continue
            row = dict(zip(header, ln.parsed, strict=True))
            if entity == "accounts":
                created[row["Id"]] = row["CreatedDate"]
            elif row["AccountId"] in created:
                assert row["CreatedDate"] >= created[row["AccountId"]], row["Id"]
                assert row["LastModifiedDate"] >= row["CreatedDate"]
