"""Every file in contracts/ through the real parser, checked against the schemas the code writes.

The schemas come from the code, not from a lake: ``bronze_schema`` for each declared entity,
the ops ledger schemas, the Silver standardise functions run on empty Bronze frames, and the
schemas every Gold build conforms its rows to (``gold.step.SPECS``; tests/unit/gold checks the
builds produce exactly them) plus ``ops.gold_builds``. A transform that adds, drops or retypes a
column therefore fails here until its contract says so.
"""

from __future__ import annotations

import re
from functools import reduce
from pathlib import Path

import pytest
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql.types import StructType

from crm_lakehouse.contracts import (
    DQ_RESULTS,
    DQ_RESULTS_SCHEMA,
    Action,
    Classification,
    Contract,
    build_suite,
    lint,
    load_contracts,
    quarantine_schema,
    row_checks,
)
from crm_lakehouse.gold.state import BUILDS, BUILDS_SCHEMA
from crm_lakehouse.gold.step import SPECS as GOLD_SPECS
from crm_lakehouse.ingest.bronze import bronze_schema, bronze_table
from crm_lakehouse.ops.ledger import INGESTED_FILES, INGESTED_FILES_SCHEMA, RUNS, RUNS_SCHEMA
from crm_lakehouse.silver import resolution as RES
from crm_lakehouse.silver.records import SILVER_SOURCES, latest_per_key
from crm_lakehouse.sources import all_entities

from ._support import REF

CONTRACTS_DIR = Path(__file__).resolve().parents[3] / "contracts"
# The golden Silver tables come out of entity resolution, which runs Spark jobs even on empty
# input; their contracts are checked against the tables of a built lake instead
# (tests/integration/test_contracts_lake.py). Here they are parsed and compiled like the rest.
GOLDEN = {
    RES.COMPANIES,
    RES.COMPANY_XREF,
    RES.COMPANY_MERGES,
    RES.PEOPLE,
    RES.PERSON_XREF,
    RES.PERSON_MERGES,
    RES.PROVIDER_CONFLICTS,
}
PERSONAL = re.compile(
    r"^(first_?name|last_?name|e_?mail|phone|street|address|billingstreet)$", re.IGNORECASE
)


@pytest.fixture(scope="module")
def contracts() -> dict[str, Contract]:
    return load_contracts(CONTRACTS_DIR)


@pytest.fixture(scope="module")
def real_schemas(spark: SparkSession) -> dict[str, StructType]:
    entities = {bronze_table(e): e for e in all_entities()}
    schemas = {table: bronze_schema(e) for table, e in entities.items()}
    schemas[INGESTED_FILES] = INGESTED_FILES_SCHEMA
    schemas[RUNS] = RUNS_SCHEMA
    schemas[DQ_RESULTS] = DQ_RESULTS_SCHEMA
    for table, feeds in SILVER_SOURCES.items():
        frames = [
            standardise(spark.createDataFrame([], bronze_schema(entities[source])))
            for source, standardise in feeds
        ]
        batch: DataFrame = latest_per_key(reduce(lambda a, b: a.unionByName(b), frames))
        schemas[table] = batch.schema
    schemas.update({spec.table: spec.schema for spec in GOLD_SPECS})
    schemas[BUILDS] = BUILDS_SCHEMA
    return schemas


def test_every_contract_matches_the_schema_the_code_writes(
    spark: SparkSession, contracts: dict[str, Contract], real_schemas: dict[str, StructType]
) -> None:
    declared = {t for t, c in contracts.items() if c.derived_from is None} - GOLDEN
    assert set(contracts) >= GOLDEN, f"golden tables without a contract: {GOLDEN - set(contracts)}"
    assert declared == set(real_schemas), (
        f"tables without a contract: {sorted(set(real_schemas) - declared)}; "
        f"contracts without a table: {sorted(declared - set(real_schemas))}"
    )
    problems: list[str] = []
    for table, contract in contracts.items():
        if GOLDEN & {table, contract.derived_from}:
            build_suite(contract, reference_time=REF, include_row_rules=True)
            continue
        if contract.derived_from is not None:
            schema = quarantine_schema(real_schemas[contract.derived_from])
        else:
            schema = real_schemas[table]
        problems.extend(lint(contract, schema, spark=spark))
        # Every rule compiles: row predicates against the real columns, and a full GX suite.
        empty = spark.createDataFrame([], schema)
        for check in row_checks(contract):
            empty.select(check.violated).schema  # noqa: B018 (analysis only, no job)
        build_suite(contract, reference_time=REF, include_row_rules=True)
    assert problems == []


def test_contracts_document_every_column_and_classify_personal_data(
    contracts: dict[str, Contract],
) -> None:
    missing = [
        f"{t}.{p.path}" for t, c in contracts.items() for p in c.walk() if not p.description.strip()
    ]
    assert missing == []
    unclassified = [
        f"{t}.{p.path}"
        for t, c in contracts.items()
        for p in c.walk()
        if PERSONAL.match(p.name) and p.classification is not Classification.PII
    ]
    assert unclassified == []
    assert all(c.description.purpose for c in contracts.values())


def test_bronze_keeps_everything_and_silver_guards_its_merge_key(
    contracts: dict[str, Contract],
) -> None:
    bronze_actions = {r.action for t, c in contracts.items() if c.tier == "bronze" for r in c.rules}
    assert bronze_actions == {Action.WARN}
    for table in SILVER_SOURCES:
        key_rules = [
            r for r in contracts[table].rules if r.columns == ("source_system", "source_id")
        ]
        assert [(r.kind.value, r.action) for r in key_rules] == [("unique", Action.FAIL)]
        source_id = [r for r in contracts[table].rules if r.columns == ("source_id",)]
        assert [(r.kind.value, r.action) for r in source_id] == [("not_null", Action.QUARANTINE)]
