"""Configured fault rates are honoured, and zero rates mean clean data."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from crm_lakehouse.config import FaultRates
from crm_lakehouse.synthetic import generate
from tests.unit.synthetic._support import ZERO_RATES, read_csv, read_lines
from tests.unit.synthetic.conftest import DAY1, DAY2

RATES = FaultRates(
    name_variant=0.2,
    domain_variant=0.15,
    email_variant=0.1,
    typo=0.1,
    missing_field=0.12,
    provider_conflict=0.25,
    stale_provider=0.2,
    malformed_row=0.05,
    invalid_utf8=0.04,
    duplicate_file=True,
    late_update=0.05,
)


def _assert_rate(count: int, eligible: int, rate: float, what: str) -> None:
    """Within five binomial standard deviations (and 1.5 points) of the configured rate."""
    assert eligible > 100, what
    sd = math.sqrt(rate * (1 - rate) / eligible)
    assert abs(count / eligible - rate) <= max(5 * sd, 0.015), (
        f"{what}: {count}/{eligible} vs {rate}"
    )


def test_fault_rates_are_roughly_honoured(tmp_path: Path) -> None:
    day1 = generate(tmp_path, scale=6000, seed=5, date=DAY1, faults=RATES)
    for key in (
        "name_variant",
        "domain_variant",
        "email_variant",
        "typo",
        "missing_field",
        "provider_conflict",
        "stale_provider",
        "malformed_row",
        "invalid_utf8",
    ):
        _assert_rate(day1.fault_counts[key], day1.fault_eligible[key], getattr(RATES, key), key)
    assert day1.fault_counts["late_update"] == 0  # late updates only exist in deltas
    day2 = generate(tmp_path, scale=6000, seed=5, date=DAY2, faults=RATES)
    _assert_rate(
        day2.fault_counts["late_update"],
        day2.fault_eligible["late_update"],
        RATES.late_update,
        "late",
    )
    assert day2.changes["late_update"] == day2.fault_counts["late_update"]


def test_zero_rates_give_clean_data(tmp_path: Path) -> None:
    report = generate(tmp_path, scale=3000, seed=5, date=DAY1, faults=ZERO_RATES)
    assert all(v == 0 for v in report.fault_counts.values()), report.fault_counts
    assert report.malformed_rows == report.invalid_utf8_rows == 0
    assert not any(f.redelivery_of for f in report.files)
    assert not list(tmp_path.rglob("*-redelivery.*"))
    for f in report.files:
        _, lines = read_lines(tmp_path / f.path)
        assert all(ln.valid_utf8 and ln.parsed is not None for ln in lines), f.path
    records = read_csv(tmp_path / "_truth" / DAY1 / "source_records.csv")
    assert all(r["faults"] == "" for r in records)
    # without name variants and typos every account carries its company's true name
    names = {
        r["company_id"]: r["name"] for r in read_csv(tmp_path / "_truth" / DAY1 / "companies.csv")
    }
    _, accounts = read_lines(tmp_path / "salesforce" / DAY1 / "accounts.csv")
    owner = {r["source_id"]: r["company_id"] for r in records if r["entity"] == "accounts"}
    for ln in accounts:
        assert isinstance(ln.parsed, list)
        assert ln.parsed[1] == names[owner[ln.source_id]]
    day2 = generate(tmp_path, scale=3000, seed=5, date=DAY2, faults=ZERO_RATES)
    assert day2.changes.get("late_update", 0) == 0
    assert all(v == 0 for v in day2.fault_counts.values())


@pytest.mark.parametrize("rate", [0.0, 1.0])
def test_extreme_provider_rates(tmp_path: Path, rate: float) -> None:
    rates = FaultRates(0, 0, 0, 0, 0, rate, rate, 0, 0, False, 0)
    report = generate(tmp_path, scale=1500, seed=9, date=DAY1, faults=rates)
    assert report.fault_counts["provider_conflict"] == round(
        rate * report.fault_eligible["provider_conflict"]
    )
    assert report.fault_counts["stale_provider"] == round(
        rate * report.fault_eligible["stale_provider"]
    )
