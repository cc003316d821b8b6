"""A full dump: file layout and columns, truth coverage, malformed rows, bad bytes, the
redelivered copy, scale and the manifest."""

from __future__ import annotations

import dataclasses
from collections import Counter
from pathlib import Path

import pytest

from crm_lakehouse.errors import ConfigError
from crm_lakehouse.sources import SOURCES, classify_file
from crm_lakehouse.synthetic import GenerationReport, generate
from tests.unit.synthetic._support import (
    DEFAULT_RATES,
    delivered_files,
    manifest,
    read_csv,
    read_lines,
)
from tests.unit.synthetic.conftest import DAY1

Days = tuple[Path, GenerationReport, GenerationReport]


def test_every_registry_entity_is_delivered_with_its_exact_columns(two_days: Days) -> None:
    landing, day1, _ = two_days
    seen = set()
    for src in SOURCES:
        for ent in src.entities:
            path = landing / src.name / DAY1 / f"{ent.name}.{src.format.value}"
            header, lines = read_lines(path)
            assert lines, f"{path} is empty"
            seen.add(ent.table)
            if src.format.value == "csv":
                assert tuple(header or ()) == ent.columns
            else:
                good = [ln.parsed for ln in lines if isinstance(ln.parsed, dict)]
                for obj in good:
                    assert isinstance(obj, dict)
                    expected = (*ent.columns, ent.nested_field) if ent.nested_field else ent.columns
                    assert tuple(obj) == expected
                    if ent.nested_field:
                        assert tuple(obj[ent.nested_field]) == ent.nested
    assert len(seen) == 9
    assert {f.path for f in day1.files} == {
        p.relative_to(landing).as_posix() for p in delivered_files(landing) if DAY1 in p.parts
    }


def test_classify_file_recognises_every_written_file(two_days: Days) -> None:
    landing, day1, day2 = two_days
    by_path = {f.path: f for f in (*day1.files, *day2.files)}
    files = delivered_files(landing)
    assert files
    for path in files:
        entity = classify_file(path)
        report = by_path[path.relative_to(landing).as_posix()]
        assert (entity.source, entity.name) == (report.source, report.entity)


def test_truth_covers_every_delivered_record(two_days: Days) -> None:
    landing, day1, _ = two_days
    truth = landing / "_truth" / DAY1
    records = read_csv(truth / "source_records.csv")
    companies = {r["company_id"] for r in read_csv(truth / "companies.csv")}
    people = {r["person_id"] for r in read_csv(truth / "people.csv")}
    by_file: dict[str, dict[int, dict[str, str]]] = {}
    for r in records:
        by_file.setdefault(r["file"], {})[int(r["line"])] = r
    assert len(records) == day1.total_records
    for f in day1.files:
        if f.redelivery_of:
            assert f.path not in by_file  # a copy: its rows are not new records
            continue
        _, lines = read_lines(landing / f.path)
        truth_rows = by_file[f.path]
        assert len(truth_rows) == len(lines) == f.rows
        for ln in lines:
            t = truth_rows[ln.number]
            assert (t["source"], t["entity"], t["source_id"]) == (f.source, f.entity, ln.source_id)
            assert t["company_id"] in companies
            if t["entity_kind"] == "company":
                assert t["true_id"] == t["company_id"]
            elif t["entity_kind"] == "person":
                assert t["true_id"] in people
            else:
                assert t["entity_kind"] == "opportunity" and t["true_id"].startswith("O")
    keys = Counter((r["source"], r["entity"], r["source_id"]) for r in records)
    assert max(keys.values()) == 1, "a source id delivered twice in one full dump"


def test_malformed_rows_fail_to_parse_and_are_counted(two_days: Days) -> None:
    landing, day1, _ = two_days
    tagged = {
        (r["file"], int(r["line"]))
        for r in read_csv(landing / "_truth" / DAY1 / "source_records.csv")
        if "malformed_row" in r["faults"].split(";")
    }
    total = 0
    for f in day1.files:
        _, lines = read_lines(landing / f.path)
        broken = {ln.number for ln in lines if ln.parsed is None}
        assert len(broken) == f.malformed_rows, f.path
        if not f.redelivery_of:
            assert broken == {n for p, n in tagged if p == f.path}
            total += len(broken)
    assert total == day1.malformed_rows == day1.fault_counts["malformed_row"] > 0


def test_invalid_utf8_lines_really_fail_to_decode(two_days: Days) -> None:
    landing, day1, _ = two_days
    tagged = {
        (r["file"], int(r["line"]))
        for r in read_csv(landing / "_truth" / DAY1 / "source_records.csv")
        if "invalid_utf8" in r["faults"].split(";")
    }
    total = 0
    for f in day1.files:
        _, lines = read_lines(landing / f.path)
        bad = {ln.number for ln in lines if not ln.valid_utf8}
        assert len(bad) == f.invalid_utf8_rows, f.path
        for ln in lines:
            if ln.number in bad:
                with pytest.raises(UnicodeDecodeError):
                    ln.raw.decode("utf-8")
        if not f.redelivery_of:
            assert bad == {n for p, n in tagged if p == f.path}
            total += len(bad)
    assert total == day1.invalid_utf8_rows == day1.fault_counts["invalid_utf8"] > 0


def test_redelivered_file_is_a_byte_identical_copy(two_days: Days) -> None:
    landing, day1, _ = two_days
    copies = [f for f in day1.files if f.redelivery_of]
    assert len(copies) == 1
    copy = copies[0]
    assert (landing / copy.path).read_bytes() == (landing / copy.redelivery_of).read_bytes()
    assert Path(copy.path).stem.endswith("-redelivery")
    m = manifest(landing, DAY1)
    assert m["redeliveries"] == [
        {
            "path": copy.path,
            "copy_of": copy.redelivery_of,
            "rows": copy.rows,
            "note": "byte-identical copy delivered again; its rows are not new records",
        }
    ]
    assert day1.total_rows == day1.total_records + copy.rows
    assert day1.redelivered_rows == copy.rows
    assert day1.fault_counts["duplicate_file"] == 1


@pytest.mark.parametrize("scale", [300, 5000])
def test_scale_is_the_approximate_number_of_records(tmp_path: Path, scale: int) -> None:
    report = generate(tmp_path, scale=scale, seed=3, date=DAY1, faults=DEFAULT_RATES)
    assert abs(report.total_records - scale) <= max(0.05 * scale, 25)
    assert report.total_records == sum(f.rows for f in report.files if not f.redelivery_of)


def test_record_mix_is_realistic(two_days: Days) -> None:
    _, day1, _ = two_days
    share = {
        f"{f.source}.{f.entity}": f.rows / day1.total_records
        for f in day1.files
        if not f.redelivery_of
    }
    targets = {
        "salesforce.accounts": 0.10,
        "salesforce.contacts": 0.22,
        "salesforce.leads": 0.14,
        "salesforce.opportunities": 0.17,
        "hubspot.companies": 0.08,
        "hubspot.contacts": 0.14,
        "provider_a.firmographics": 0.05,
        "provider_b.firmographics": 0.05,
        "provider_c.firmographics": 0.05,
    }
    for key, target in targets.items():
        assert share[key] == pytest.approx(target, abs=0.025), key


def test_companies_overlap_across_systems(two_days: Days) -> None:
    landing, _, _ = two_days
    records = read_csv(landing / "_truth" / DAY1 / "source_records.csv")
    systems: dict[str, set[str]] = {}
    for r in records:
        systems.setdefault(r["company_id"], set()).add(r["source"])
    n = len(systems)
    both_crms = sum(1 for s in systems.values() if {"salesforce", "hubspot"} <= s)
    in_hubspot = sum(1 for s in systems.values() if "hubspot" in s)
    providers = sum(1 for s in systems.values() if s & {"provider_a", "provider_b", "provider_c"})
    assert both_crms / in_hubspot > 0.4  # the acquired CRM shares many companies
    assert providers / n > 0.6  # providers together cover most companies
    people = Counter((r["true_id"], r["source"]) for r in records if r["entity_kind"] == "person")
    multi = Counter(pid for pid, _ in people)
    assert sum(1 for v in multi.values() if v > 1) / len(multi) > 0.15  # people in both CRMs


def test_manifest_is_the_report(two_days: Days) -> None:
    landing, day1, _ = two_days
    m = manifest(landing, DAY1)
    assert m == day1.to_manifest()
    assert m["mode"] == "full" and m["previous_dates"] == [] and m["schema_changes"] == []
    assert m["fault_rates"] == dataclasses.asdict(DEFAULT_RATES)
    assert m["totals"]["records"] == day1.total_records
    assert {f["path"]: f["rows"] for f in m["files"]} == day1.rows_by_file
    for key in ("name_variant", "domain_variant", "typo", "missing_field", "provider_conflict"):
        assert 0 < m["fault_counts"][key] <= m["fault_eligible"][key]
    assert m["elapsed_seconds"] > 0


def test_faults_column_agrees_with_manifest_counts(two_days: Days) -> None:
    landing, day1, _ = two_days
    tags = Counter(
        tag
        for r in read_csv(landing / "_truth" / DAY1 / "source_records.csv")
        for tag in r["faults"].split(";")
        if tag
    )
    for key, count in day1.fault_counts.items():
        if key != "duplicate_file":
            assert tags[key] == count, key


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"scale": 0}, "scale"),
        ({"date": "20-11-2026"}, "date"),
        ({"faults": dataclasses.replace(DEFAULT_RATES, typo=1.5)}, "faults.typo"),
        ({"faults": dataclasses.replace(DEFAULT_RATES, duplicate_file=1)}, "faults.duplicate_file"),  # type: ignore[arg-type]
    ],
)
def test_invalid_arguments_are_reported(
    tmp_path: Path, kwargs: dict[str, object], message: str
) -> None:
    args: dict[str, object] = {
        "scale": 100,
        "seed": 1,
        "date": DAY1,
        "faults": DEFAULT_RATES,
        **kwargs,
    }
    with pytest.raises(ConfigError, match=message):
        generate(tmp_path, **args)  # type: ignore[arg-type]
    assert not any(tmp_path.iterdir())
