"""The shape of ``<tier>.<table>__quarantine`` tables and the way back out of them.

A quarantine row is the held row exactly as it would have been published, preceded by four
columns saying which run held it, which rules it broke and why. The original columns keep their
names, so replaying held rows is a projection (:func:`released_rows`), except where a source
column already uses one of the four names (Bronze's ``_run_id``): that column is stored as
``_original<name>`` and renamed back on release.
"""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import ArrayType, StringType, StructField, StructType, TimestampType

from crm_lakehouse.contracts.model import Classification, Property

QUARANTINE_SUFFIX = "__quarantine"
RUN_ID = "_run_id"
RULE_IDS = "_rule_ids"
REASONS = "_reasons"
QUARANTINED_AT = "_quarantined_at"
QUARANTINE_COLUMNS = (RUN_ID, RULE_IDS, REASONS, QUARANTINED_AT)
_ORIGINAL_PREFIX = "_original"

QUARANTINE_FIELDS: tuple[StructField, ...] = (
    StructField(RUN_ID, StringType(), False),
    StructField(RULE_IDS, ArrayType(StringType(), False), False),
    StructField(REASONS, ArrayType(StringType(), False), False),
    StructField(QUARANTINED_AT, TimestampType(), False),
)


def _prop(name: str, physical: str, logical: str, description: str) -> Property:
    field = next(f for f in QUARANTINE_FIELDS if f.name == name)
    return Property(
        name=name,
        path=name,
        logical_type=logical,
        physical_type=physical,
        data_type=field.dataType,
        required=True,
        unique=False,
        primary_key=False,
        primary_key_position=None,
        classification=Classification.INTERNAL,
        description=description,
    )


QUARANTINE_PROPERTIES: tuple[Property, ...] = (
    _prop(RUN_ID, "string", "string", "The pipeline run that held the row back."),
    _prop(
        RULE_IDS,
        "array<string>",
        "array",
        "Ids of the contract rules the row broke (e.g. silver.person_records.email.format).",
    ),
    _prop(
        REASONS,
        "array<string>",
        "array",
        "One readable reason per broken rule, without any value from the row.",
    ),
    _prop(QUARANTINED_AT, "timestamp", "date", "When the row was held back (UTC)."),
)


def original_name(name: str) -> str:
    """The column name a source column is stored under in quarantine."""
    return _ORIGINAL_PREFIX + name if name in QUARANTINE_COLUMNS else name


def quarantine_schema(source: StructType) -> StructType:
    """The quarantine table's schema for a table with schema ``source``.

    Source columns become nullable: a held row is by definition one that may break the table's
    own constraints (a null key, say).
    """
    return StructType(
        [
            *QUARANTINE_FIELDS,
            *[StructField(original_name(f.name), f.dataType, True) for f in source.fields],
        ]
    )


def released_rows(quarantined: DataFrame) -> DataFrame:
    """Held rows in their original shape, ready to be re-submitted through the contract.

    Drops the quarantine columns and renames ``_original<name>`` columns back. The caller
    decides which held rows to release (e.g. ``where(array_contains("_rule_ids", rule_id))``).
    """
    keep = [c for c in quarantined.columns if c not in QUARANTINE_COLUMNS]
    return quarantined.select(
        *[
            F.col(f"`{c}`").alias(c[len(_ORIGINAL_PREFIX) :])
            if c.startswith(_ORIGINAL_PREFIX) and c[len(_ORIGINAL_PREFIX) :] in QUARANTINE_COLUMNS
            else F.col(f"`{c}`")
            for c in keep
        ]
    )
