"""Builders for small contracts in tests: ODCS-shaped dicts parsed by the real parser."""

from __future__ import annotations

import datetime as dt
from typing import Any

from crm_lakehouse.contracts import Contract, parse_contract

REF = dt.datetime(2026, 11, 20, 12, 0, tzinfo=dt.UTC)
"""The reference time ("now") of every enforcement in the tests."""

LOGICAL = {
    "string": "string",
    "bigint": "integer",
    "int": "integer",
    "double": "number",
    "boolean": "boolean",
    "date": "date",
    "timestamp": "date",
}


def column(
    name: str,
    physical: str = "string",
    *rules: dict[str, Any],
    classification: str = "public",
    required: bool = False,
    **extra: Any,
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "name": name,
        "logicalType": LOGICAL.get(physical, "string"),
        "physicalType": physical,
        "required": required,
        "classification": classification,
        "description": f"The {name} column.",
        **extra,
    }
    if rules:
        out["quality"] = list(rules)
    return out


def lib(
    rule: str,
    action: str,
    *,
    args: dict[str, Any] | None = None,
    mostly: float | None = None,
    **operators: Any,
) -> dict[str, Any]:
    out: dict[str, Any] = {"type": "library", "rule": rule}
    if args is not None:
        out["arguments"] = args
    out.update(operators)
    custom_props = [{"property": "action", "value": action}]
    if mostly is not None:
        custom_props.append({"property": "mostly", "value": mostly})
    out["customProperties"] = custom_props
    return out


def custom(rule_id: str, expression: str, action: str, **extra: Any) -> dict[str, Any]:
    return {
        "type": "custom",
        "id": rule_id,
        "engine": "spark-sql",
        "implementation": expression,
        "description": f"check {rule_id}",
        "customProperties": [{"property": "action", "value": action}],
        **extra,
    }


def document(
    properties: list[dict[str, Any]],
    quality: list[dict[str, Any]] | None = None,
    *,
    table: str = "silver.things",
    drift: dict[str, str] | None = None,
) -> dict[str, Any]:
    name = table.split(".")[1]
    obj: dict[str, Any] = {
        "name": name,
        "physicalName": table,
        "physicalType": "table",
        "logicalType": "object",
        "description": "Things for tests.",
        "properties": properties,
    }
    if quality:
        obj["quality"] = quality
    doc: dict[str, Any] = {
        "apiVersion": "v3.0.2",
        "kind": "DataContract",
        "id": f"test.{table}",
        "name": table,
        "version": "1.0.0",
        "status": "active",
        "description": {"purpose": "Tests."},
        "schema": [obj],
    }
    if drift is not None:
        doc["customProperties"] = [{"property": "schemaDrift", "value": drift}]
    return doc


def contract(
    properties: list[dict[str, Any]],
    quality: list[dict[str, Any]] | None = None,
    **kwargs: Any,
) -> Contract:
    return parse_contract(document(properties, quality, **kwargs), source="test.yaml")
