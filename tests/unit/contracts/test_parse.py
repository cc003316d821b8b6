"""The contract parser: valid files become frozen objects, invalid ones report every problem."""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt
from pathlib import Path
from typing import Any

import pytest
import yaml

from crm_lakehouse.contracts import (
    Action,
    Classification,
    RuleKind,
    load_contract,
    load_contracts,
    parse_contract,
    quarantine_contract,
)
from crm_lakehouse.contracts.formats import NamedFormat
from crm_lakehouse.errors import ConfigError, ContractDefinitionError

from ._support import column, contract, custom, document, lib


def _valid() -> dict[str, Any]:
    return document(
        [
            column(
                "source_system",
                "string",
                lib("notNull", "fail"),
                required=True,
                primaryKey=True,
                primaryKeyPosition=1,
            ),
            column(
                "source_id",
                "string",
                lib("notNull", "quarantine"),
                required=True,
                primaryKey=True,
                primaryKeyPosition=2,
            ),
            column(
                "email",
                "string",
                lib("format", "quarantine", args={"format": "email"}),
                classification="pii",
            ),
            column(
                "amount", "double", lib("range", "drop", args={"min": 0, "max": 10}, mostly=0.9)
            ),
            column(
                "stage", "string", lib("acceptedValues", "warn", args={"validValues": ["a", "b"]})
            ),
            column("code", "string", lib("regex", "warn", args={"pattern": "^[A-Z]{3}$"})),
            column(
                "company_id",
                "string",
                lib("referential", "warn", args={"references": "silver.companies.id"}),
            ),
            column(
                "modified_at",
                "timestamp",
                lib("freshness", "fail", mustBeLessOrEqualTo=36, unit="hours"),
            ),
        ],
        [
            lib("unique", "fail", args={"properties": ["source_system", "source_id"]}),
            lib("rowCount", "warn", mustBeBetween=[1, 100]),
            custom("amount_small", "amount < 5", "warn"),
            {"type": "text", "description": "Amounts are in USD."},
        ],
        drift={"added": "fail", "retyped": "warn"},
    )


def test_a_valid_contract_parses_into_typed_rules_with_readable_ids() -> None:
    c = parse_contract(_valid(), source="things.yaml")
    assert c.table == "silver.things" and c.tier == "silver" and c.short_name == "things"
    by_id = {r.id: r for r in c.rules}
    assert sorted(by_id) == [
        "silver.things.amount.range",
        "silver.things.amount_small",
        "silver.things.code.regex",
        "silver.things.company_id.referential",
        "silver.things.email.format",
        "silver.things.modified_at.freshness",
        "silver.things.row_count",
        "silver.things.source_id.not_null",
        "silver.things.source_system+source_id.unique",
        "silver.things.source_system.not_null",
        "silver.things.stage.accepted_values",
    ]
    amount = by_id["silver.things.amount.range"]
    assert (amount.kind, amount.action, amount.minimum, amount.maximum, amount.mostly) == (
        RuleKind.RANGE,
        Action.DROP,
        0,
        10,
        0.9,
    )
    assert by_id["silver.things.email.format"].format is NamedFormat.EMAIL
    assert by_id["silver.things.stage.accepted_values"].values == ("a", "b")
    assert by_id["silver.things.row_count"].minimum == 1
    assert by_id["silver.things.row_count"].maximum == 100
    assert by_id["silver.things.modified_at.freshness"].max_age == dt.timedelta(hours=36)
    assert by_id["silver.things.company_id.referential"].reference_table == "silver.companies"
    assert by_id["silver.things.amount_small"].expression == "amount < 5"
    assert by_id["silver.things.source_system+source_id.unique"].columns == (
        "source_system",
        "source_id",
    )
    assert c.primary_key == ("source_system", "source_id")
    assert c.find("email") is not None and c.find("email").classification is Classification.PII  # type: ignore[union-attr]
    assert c.notes == ("Amounts are in USD.",)
    assert (c.drift.added, c.drift.removed, c.drift.retyped) == (
        Action.FAIL,
        Action.FAIL,
        Action.WARN,
    )
    with pytest.raises(dataclasses.FrozenInstanceError):
        c.table = "x"  # type: ignore[misc]


def test_every_problem_is_reported_together_with_its_key_path() -> None:
    doc = _valid()
    doc["apiVersion"] = "v9"
    doc["colour"] = "blue"
    obj = doc["schema"][0]
    props = obj["properties"]
    props[0]["required"] = "yes"
    props[1]["physicalType"] = "strin"
    props[2]["quality"][0]["customProperties"][0]["value"] = "block"
    props[3]["quality"][0]["rule"] = "between"
    props[4]["classification"] = "secret"
    props[5]["quality"][0]["arguments"]["pattern"] = "(unclosed"
    obj["quality"][1]["customProperties"][0]["value"] = "quarantine"
    obj["quality"][0]["arguments"]["properties"] = ["source_system", "nope"]
    with pytest.raises(ContractDefinitionError) as err:
        parse_contract(doc, source="contracts/silver/things.yaml")
    problems = err.value.problems
    expected = [
        "contracts/silver/things.yaml: apiVersion: 'v9' is not one of",
        "contracts/silver/things.yaml: colour: unknown key",
        "schema[things].properties[source_system].required: expected true or false, found 'yes'",
        "schema[things].properties[source_id].physicalType: unknown type 'strin'",
        "schema[things].properties[email].quality[0].customProperties.action: 'block' is not one of",
        "schema[things].properties[amount].quality[0].rule: 'between' is not one of",
        "schema[things].properties[stage].classification: 'secret' is not one of",
        "schema[things].properties[code].quality[0].arguments.pattern: not a valid regular expression",
        "schema[things].quality[1].customProperties.action: 'quarantine' needs rows to split",
        "column 'nope' is not declared",
    ]
    for fragment in expected:
        assert any(fragment in p for p in problems), (fragment, problems)
    assert len(problems) >= len(expected)
    assert isinstance(err.value, ConfigError) and err.value.exit_code == 2
    assert str(err.value).startswith("invalid data contracts:")


@pytest.mark.parametrize(
    ("mutate", "fragment"),
    [
        (
            lambda d: d["schema"][0]["properties"][3]["quality"][0]["customProperties"].pop(0),
            "every rule needs an action",
        ),
        (
            lambda d: d["schema"][0]["properties"][3]["quality"][0].update(mustBe=0),
            "comparison operators ['mustBe'] do not apply to 'range'",
        ),
        (
            lambda d: d["schema"][0]["properties"][3]["quality"][0]["arguments"].update(min=20),
            "min 20 is greater than max 10",
        ),
        (
            lambda d: d["schema"][0]["properties"][4]["quality"][0]["arguments"].update(
                validValues=[True]
            ),
            "quote them",
        ),
        (
            lambda d: d["schema"][0]["properties"][6]["quality"][0]["arguments"].update(
                references="x"
            ),
            "expected '<tier>.<table>.<column>'",
        ),
        (
            lambda d: d["schema"][0]["properties"][7]["quality"][0].update(unit="weeks"),
            "unit: expected one of ['days', 'hours', 'minutes']",
        ),
        (
            lambda d: d["schema"][0]["properties"][4].update(physicalType="bigint"),
            "'string' does not describe physicalType 'bigint'",
        ),
        (
            lambda d: d["schema"][0]["quality"][2].update(engine="soda"),
            "engine: expected 'spark-sql'",
        ),
        (
            lambda d: d["schema"][0]["quality"].append({"type": "sql", "query": "select 1"}),
            "'sql' rules (a query compared with mustBe...) are not supported",
        ),
        (
            lambda d: d["schema"][0]["quality"].append(lib("notNull", "warn")),
            "rule 'notNull' does not apply here: declare it under the column's quality",
        ),
        (
            lambda d: d["schema"][0]["quality"].pop(0),
            "primary key ['source_system', 'source_id'] has no 'unique' rule",
        ),
        (
            lambda d: d["schema"][0]["properties"][5]["quality"].append(
                lib("regex", "warn", args={"pattern": "x"})
            ),
            "rule id 'silver.things.code.regex' is also used",
        ),
        (
            lambda d: d["schema"][0]["properties"][5].update(unique=True),
            "unique: true has no 'unique' rule enforcing it",
        ),
        (
            lambda d: d["customProperties"][0]["value"].update(added="quarantine"),
            "'quarantine' cannot apply to a schema change",
        ),
        (
            lambda d: d["schema"][0].update(physicalName="platinum.things"),
            "unknown tier 'platinum'",
        ),
        (lambda d: d.update(description="a string"), "expected a mapping with 'purpose'"),
        (
            lambda d: d["schema"][0]["properties"][2].pop("classification"),
            "classification: required key is missing",
        ),
        (
            lambda d: d["schema"][0]["properties"][3]["quality"][0]["customProperties"][1].update(
                value=2
            ),
            "mostly: expected a number in (0, 1]",
        ),
    ],
    ids=[
        "missing-action",
        "operator-on-row-rule",
        "empty-range",
        "unquoted-boolean-values",
        "bad-reference",
        "bad-age-unit",
        "logical-vs-physical",
        "unknown-engine",
        "sql-rules",
        "column-rule-at-table-level",
        "primary-key-without-unique",
        "duplicate-rule-id",
        "unique-flag-without-rule",
        "drift-action",
        "unknown-tier",
        "description-shape",
        "missing-classification",
        "mostly-out-of-range",
    ],
)
def test_each_invalid_shape_is_named(mutate: Any, fragment: str) -> None:
    doc = copy.deepcopy(_valid())
    mutate(doc)
    with pytest.raises(ContractDefinitionError) as err:
        parse_contract(doc, source="t.yaml")
    assert any(fragment in p for p in err.value.problems), err.value.problems


def _write(folder: Path, table: str, doc: dict[str, Any]) -> Path:
    tier, name = table.split(".")
    path = folder / tier / f"{name}.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return path


def test_load_contracts_checks_referential_targets_and_file_locations(tmp_path: Path) -> None:
    _write(tmp_path, "silver.things", _valid())
    wrong_place = document([column("id", "string")], table="silver.stuff")
    _write(tmp_path, "gold.other", wrong_place)
    (tmp_path / "silver" / "broken.yaml").write_text("schema: [\n", encoding="utf-8")
    with pytest.raises(ContractDefinitionError) as err:
        load_contracts(tmp_path)
    problems = "\n".join(err.value.problems)
    assert "names table 'silver.companies', which has no contract" in problems
    assert "declares table 'silver.stuff' but lives at gold/other.yaml" in problems
    assert "broken.yaml: not valid YAML" in problems


def test_load_contracts_resolves_references_and_derives_quarantine_tables(tmp_path: Path) -> None:
    _write(tmp_path, "silver.things", _valid())
    companies = document(
        [column("id", "string", lib("unique", "fail"), unique=True)], table="silver.companies"
    )
    _write(tmp_path, "silver.companies", companies)
    target_missing_column = _valid()
    target_missing_column["schema"][0]["properties"][6]["quality"][0]["arguments"]["references"] = (
        "silver.companies.code"
    )
    contracts = load_contracts(tmp_path)
    assert sorted(contracts) == ["silver.companies", "silver.things", "silver.things__quarantine"]
    q = contracts["silver.things__quarantine"]
    assert q.derived_from == "silver.things"
    assert q.columns[:4] == ("_run_id", "_rule_ids", "_reasons", "_quarantined_at")
    assert q.columns[4:] == contracts["silver.things"].columns
    assert q.find("email").classification is Classification.PII  # type: ignore[union-attr]
    assert not q.rules and not any(p.required for p in q.properties[4:])

    _write(tmp_path, "silver.things", target_missing_column)
    with pytest.raises(ContractDefinitionError, match="has no column 'code'"):
        load_contracts(tmp_path)


def test_load_contract_reads_one_file(tmp_path: Path) -> None:
    path = _write(tmp_path, "silver.things", _valid())
    assert load_contract(path).table == "silver.things"
    with pytest.raises(ContractDefinitionError, match="file not found"):
        load_contract(tmp_path / "nope.yaml")


def test_quarantine_contract_renames_columns_that_collide() -> None:
    c = contract([column("_run_id", "string"), column("x", "bigint")])
    q = quarantine_contract(c)
    assert q.columns == (
        "_run_id",
        "_rule_ids",
        "_reasons",
        "_quarantined_at",
        "_original_run_id",
        "x",
    )
