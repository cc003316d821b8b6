"""Check a contract against a table's real schema.

Run by ``lakehouse contracts lint`` against the lake, and by the test that loads every contract
against the schemas the code produces, so that a change to a transform that adds, drops or
retypes a column cannot go unnoticed: the contract has to change with it.
"""

from __future__ import annotations

from pyspark.sql import SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import StructType

from crm_lakehouse.contracts.model import Contract, Property, RuleKind
from crm_lakehouse.contracts.spark_types import canonical, same_type


def lint(
    contract: Contract, actual_schema: StructType, *, spark: SparkSession | None = None
) -> list[str]:
    """Every difference between the contract and ``actual_schema``, as readable problems.

    Reports columns missing from the table or from the contract, type mismatches (nested
    struct fields included), and nullability that disagrees with ``required``: a required column
    must be NOT NULL in the table or be enforced by a ``notNull`` rule (Spark reads Parquet
    columns back as nullable, so the rule is what really holds), and a NOT NULL column must be
    ``required: true``. With ``spark``, custom SQL predicates are also analysed against the
    schema (no data is read), so a typo in a column name shows up here and not mid-run.
    """
    problems: list[str] = []
    not_null = {r.columns[0] for r in contract.rules if r.kind is RuleKind.NOT_NULL}
    _compare(contract, contract.properties, actual_schema, not_null, problems)
    if spark is not None:
        problems.extend(_check_expressions(contract, actual_schema, spark))
    return problems


def _compare(
    contract: Contract,
    props: tuple[Property, ...],
    actual: StructType,
    not_null: set[str],
    problems: list[str],
) -> None:
    table = contract.table
    fields = {f.name: f for f in actual.fields}
    declared = {p.name for p in props}
    for prop in props:
        field = fields.get(prop.name)
        if field is None:
            problems.append(
                f"{table}: column {prop.path!r} ({prop.physical_type}) is in the contract "
                "but not in the table"
            )
            continue
        if prop.properties and isinstance(field.dataType, StructType):
            _compare(contract, prop.properties, field.dataType, not_null, problems)
        elif not same_type(prop.data_type, field.dataType):
            problems.append(
                f"{table}: column {prop.path!r}: the contract says {canonical(prop.data_type)}, "
                f"the table has {canonical(field.dataType)}"
            )
        if prop.required and field.nullable and prop.path not in not_null:
            problems.append(
                f"{table}: column {prop.path!r} is required, but the table allows nulls and no "
                "notNull rule enforces it"
            )
        if not prop.required and not field.nullable:
            problems.append(
                f"{table}: column {prop.path!r} is NOT NULL in the table, but the contract says "
                "required: false"
            )
    prefix = props[0].path.rsplit(".", 1)[0] + "." if props and "." in props[0].path else ""
    for field in actual.fields:
        if field.name not in declared:
            problems.append(
                f"{table}: column {prefix + field.name!r} ({canonical(field.dataType)}) is in the "
                "table but not in the contract"
            )


def _check_expressions(contract: Contract, schema: StructType, spark: SparkSession) -> list[str]:
    empty = spark.createDataFrame([], schema)
    problems = []
    for rule in contract.rules:
        if rule.kind is RuleKind.CUSTOM and rule.expression:
            try:
                empty.select(F.expr(rule.expression).alias("check")).schema  # noqa: B018
            except Exception as exc:  # Spark's analysis errors have no stable public type
                first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
                problems.append(
                    f"{rule.id}: the predicate {rule.expression!r} does not analyse: {first}"
                )
    return problems
