"""Day-2 deltas: updates, new records, deletions, late-arriving updates, provider refreshes and
the schema change, checked against the day-1 delivery and the truth."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from crm_lakehouse.sources import source
from crm_lakehouse.synthetic import GenerationReport
from tests.unit.synthetic._support import manifest, read_csv, read_lines
from tests.unit.synthetic.conftest import DAY1, DAY2

Days = tuple[Path, GenerationReport, GenerationReport]
Key = tuple[str, str, str]


def _rows(landing: Path, report: GenerationReport) -> dict[Key, dict[str, Any]]:
    """Well-formed delivered rows of one date by (source, entity, id), as column -> value."""
    out: dict[Key, dict[str, Any]] = {}
    for f in report.files:
        if f.redelivery_of:
            continue
        header, lines = read_lines(landing / f.path)
        for ln in lines:
            if ln.parsed is None:
                continue
            row = dict(zip(header, ln.parsed, strict=True)) if header else ln.parsed
            assert isinstance(row, dict)
            out[(f.source, f.entity, ln.source_id)] = row
    return out


def _modified(source_name: str, row: dict[str, Any]) -> Any:
    if source_name == "salesforce":
        return row["LastModifiedDate"]
    if source_name == "hubspot":
        return row["updatedAt"]
    if source_name == "provider_c":
        return dt.datetime.strptime(row["last_verified"], "%d/%m/%Y").date().isoformat()
    return row["as_of"]


def _content(source_name: str, row: dict[str, Any]) -> dict[str, Any]:
    """A row's values without its modification timestamps."""
    skip = {
        "LastModifiedDate",
        "updatedAt",
        "hs_lastmodifieddate",
        "lastmodifieddate",
        "as_of",
        "last_verified",
        "AccountSource",
        "hs_lead_status",
    }
    flat = dict(row)
    flat.update(flat.pop("properties", {}) or {})
    return {k: v for k, v in flat.items() if k not in skip}


def _changes(landing: Path) -> dict[str, list[dict[str, str]]]:
    out: dict[str, list[dict[str, str]]] = {}
    for r in read_csv(landing / "_truth" / DAY2 / "source_records.csv"):
        out.setdefault(r["change"], []).append(r)
    return out


def test_delta_is_small_and_has_every_kind_of_change(two_days: Days) -> None:
    landing, day1, day2 = two_days
    assert day2.mode == "delta" and day2.previous_dates == (DAY1,) and day2.base_date == DAY1
    for kind in ("update", "new", "delete", "late_update", "refresh"):
        assert day2.changes.get(kind, 0) > 0, kind
    assert day2.total_records < 0.08 * day1.total_records
    assert 0.004 < day2.changes["update"] / day1.total_records < 0.03  # about 1% updated
    assert sum(len(v) for v in _changes(landing).values()) == day2.total_records


def test_updates_are_newer_and_change_values(two_days: Days) -> None:
    landing, day1, day2 = two_days
    before, after = _rows(landing, day1), _rows(landing, day2)
    checked = 0
    for r in _changes(landing)["update"]:
        key = (r["source"], r["entity"], r["source_id"])
        if key in before and key in after:
            assert _modified(r["source"], after[key]) > _modified(r["source"], before[key])
            if "missing_field" not in r["faults"]:  # the blanked field may be the one that moved
                assert _content(r["source"], after[key]) != _content(r["source"], before[key]), key
            checked += 1
    assert checked > 10


def test_updates_carry_the_current_truth(two_days: Days) -> None:
    landing, _, day2 = two_days
    after = _rows(landing, day2)
    revenue = {
        c["company_id"]: c["revenue_usd"]
        for c in read_csv(landing / "_truth" / DAY2 / "companies.csv")
    }
    checked = 0
    for r in _changes(landing)["update"]:
        key = (r["source"], r["entity"], r["source_id"])
        if r["entity"] == "accounts" and not r["faults"] and key in after:
            assert after[key]["AnnualRevenue"] == revenue[r["company_id"]]
            checked += 1
    assert checked > 0


def test_late_updates_are_older_than_what_was_delivered(two_days: Days) -> None:
    landing, day1, day2 = two_days
    before, after = _rows(landing, day1), _rows(landing, day2)
    checked = 0
    for r in _changes(landing)["late_update"]:
        assert "late_update" in r["faults"].split(";")
        key = (r["source"], r["entity"], r["source_id"])
        if key in before and key in after:
            assert _modified(r["source"], after[key]) < _modified(r["source"], before[key])
            assert _content(r["source"], after[key]) != _content(r["source"], before[key])
            checked += 1
    assert checked > 10


def test_deletions_are_flagged(two_days: Days) -> None:
    landing, day1, day2 = two_days
    before, after = _rows(landing, day1), _rows(landing, day2)
    deleted = _changes(landing)["delete"]
    for r in deleted:
        key = (r["source"], r["entity"], r["source_id"])
        assert key in before and r["source"] in ("salesforce", "hubspot")
        if key in after:
            if r["source"] == "salesforce":
                assert after[key]["IsDeleted"] == "true"
            else:
                assert after[key]["archived"] is True
    flagged = [
        k for k, v in after.items() if v.get("IsDeleted") == "true" or v.get("archived") is True
    ]
    assert {(r["source"], r["entity"], r["source_id"]) for r in deleted} >= set(flagged)


def test_new_records_are_new_companies_people_and_records_of_known_ones(two_days: Days) -> None:
    landing, _, _ = two_days
    known_ids = {
        (r["source"], r["entity"], r["source_id"])
        for r in read_csv(landing / "_truth" / DAY1 / "source_records.csv")
    }
    day1_people = {p["person_id"] for p in read_csv(landing / "_truth" / DAY1 / "people.csv")}
    day1_companies = {
        c["company_id"] for c in read_csv(landing / "_truth" / DAY1 / "companies.csv")
    }
    new = _changes(landing)["new"]
    assert all((r["source"], r["entity"], r["source_id"]) not in known_ids for r in new)
    of_new_company = [r for r in new if r["company_id"] not in day1_companies]
    of_known_person = [
        r for r in new if r["entity_kind"] == "person" and r["true_id"] in day1_people
    ]
    of_new_person = [
        r for r in new if r["entity_kind"] == "person" and r["true_id"] not in day1_people
    ]
    assert of_new_company and of_known_person and of_new_person
    day2_companies = {
        c["company_id"] for c in read_csv(landing / "_truth" / DAY2 / "companies.csv")
    }
    day2_people = {p["person_id"] for p in read_csv(landing / "_truth" / DAY2 / "people.csv")}
    assert day1_companies < day2_companies and day1_people < day2_people
    assert {r["company_id"] for r in of_new_company} <= day2_companies


def test_provider_refreshes_have_newer_as_of(two_days: Days) -> None:
    landing, day1, day2 = two_days
    before, after = _rows(landing, day1), _rows(landing, day2)
    checked = 0
    for r in _changes(landing)["refresh"]:
        key = (r["source"], r["entity"], r["source_id"])
        assert r["source"].startswith("provider_")
        if key in before and key in after:
            assert _modified(r["source"], after[key]) > _modified(r["source"], before[key])
            checked += 1
    assert checked > 0


def test_truth_moves_with_the_world(two_days: Days) -> None:
    landing, _, _ = two_days
    day1 = {c["company_id"]: c for c in read_csv(landing / "_truth" / DAY1 / "companies.csv")}
    day2 = {c["company_id"]: c for c in read_csv(landing / "_truth" / DAY2 / "companies.csv")}
    changed = [k for k in day1 if day1[k] != day2[k]]
    assert 0 < len(changed) < 0.1 * len(day1)


def test_schema_change_adds_a_column_and_a_property(two_days: Days) -> None:
    landing, _, day2 = two_days
    header, lines = read_lines(landing / "salesforce" / DAY2 / "accounts.csv")
    assert header == [*source("salesforce").entity("accounts").columns, "AccountSource"]
    assert any(isinstance(ln.parsed, list) and ln.parsed[-1] for ln in lines)
    _, hs = read_lines(landing / "hubspot" / DAY2 / "companies.jsonl")
    good = [ln.parsed for ln in hs if isinstance(ln.parsed, dict)]
    assert good and all(list(o["properties"])[-1] == "hs_lead_status" for o in good)  # type: ignore[index]
    m = manifest(landing, DAY2)
    assert {(s["source"], s["entity"], s["column"]) for s in m["schema_changes"]} == {
        ("salesforce", "accounts", "AccountSource"),
        ("hubspot", "companies", "properties.hs_lead_status"),
    }
    accounts = next(f for f in day2.files if f.entity == "accounts" and not f.redelivery_of)
    assert accounts.extra_columns == ("AccountSource",)
