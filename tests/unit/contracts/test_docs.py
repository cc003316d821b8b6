"""Data Docs HTML from rule results, written only into the folder given."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from crm_lakehouse.contracts import RuleResult, build_data_docs

from ._support import column, contract, lib

AT = dt.datetime(2026, 11, 20, 13, 0, tzinfo=dt.UTC)
CONTRACT = contract(
    [
        column("id", "string", lib("notNull", "fail")),
        column(
            "email",
            "string",
            lib("format", "quarantine", args={"format": "email"}),
            classification="pii",
        ),
    ],
    [lib("rowCount", "warn", mustBeGreaterOrEqualTo=1)],
)


def _result(rule_id: str, kind: str, passed: bool, **extra: object) -> RuleResult:
    values: dict[str, object] = {
        "run_id": "run-9",
        "table": "silver.things",
        "rule_id": rule_id,
        "rule_kind": kind,
        "columns": (),
        "action": "warn",
        "passed": passed,
        "observed_value": None,
        "unexpected_count": None,
        "unexpected_percent": None,
        "element_count": None,
        "threshold": "no violating rows",
        "engine": "spark",
        "checked_at": AT,
    }
    values.update(extra)
    return RuleResult(**values)  # type: ignore[arg-type]


def test_builds_a_site_with_one_validation_page_per_table(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    results = [
        _result(
            "silver.things.id.not_null",
            "not_null",
            True,
            columns=("id",),
            action="fail",
            unexpected_count=0,
            element_count=5,
            unexpected_percent=0.0,
            observed_value="0 of 5 rows (0%)",
        ),
        _result(
            "silver.things.email.format",
            "format",
            False,
            columns=("email",),
            action="quarantine",
            unexpected_count=2,
            element_count=5,
            unexpected_percent=40.0,
            observed_value="2 of 5 rows (40%)",
        ),
        _result(
            "silver.things.row_count",
            "row_count",
            True,
            engine="great_expectations",
            observed_value="5 rows",
        ),
        _result(
            "bronze.x.Phone.column_removed",
            "schema_removed",
            False,
            table="bronze.x",
            action="fail",
            engine="schema",
            observed_value="column 'Phone' was not delivered",
        ),
    ]
    site = tmp_path / "docs"
    index = build_data_docs(results, site, contracts={"silver.things": CONTRACT})
    assert index == site / "index.html" and index.is_file()
    pages = sorted(p.relative_to(site).as_posix() for p in site.rglob("*.html"))
    assert [p for p in pages if p.startswith("validations/")] == [
        "validations/bronze-x/run-9/20261120T130000.000000Z/bronze-x.html",
        "validations/silver-things/run-9/20261120T130000.000000Z/silver-things.html",
    ]
    page = (site / pages[-1]).read_text(encoding="utf-8")
    assert "email" in page and "id" in page
    assert "bronze.x.Phone.column_removed" in (site / pages[-2]).read_text(encoding="utf-8")
    assert "silver.things" in index.read_text(encoding="utf-8")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["docs"]  # nothing written elsewhere
