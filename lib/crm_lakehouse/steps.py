"""Step context and outcome shared by every pipeline step."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pyspark.sql import SparkSession

from crm_lakehouse.config import Settings
from crm_lakehouse.delta.port import DeltaPort, Txn
from crm_lakehouse.lake import Lake


@dataclass(frozen=True)
class StepContext:
    """Everything a step needs; built once at the entry point and passed in."""

    spark: SparkSession
    port: DeltaPort
    settings: Settings
    date: str
    run_id: str
    full_refresh: bool = False

    @property
    def lake(self) -> Lake:
        return Lake(self.settings.paths.lake)

    def location(self, table: str) -> str:
        return self.lake.location(table)

    def input_txn(self, step: str, target: str, inputs: Mapping[str, int]) -> Txn:
        """A transaction id for writing ``target`` from ``inputs`` at the given versions.

        The same inputs give the same id, so a rerun is skipped; a new input version (a late
        file for the same date) gives a new id and the write happens.
        """
        fingerprint = ",".join(f"{k}@{v}" for k, v in sorted(inputs.items()))
        digest = hashlib.sha256(fingerprint.encode()).hexdigest()[:16]
        return Txn(f"{step}:{target}:{self.date}:{digest}")


@dataclass
class StepOutcome:
    rows_in: int = 0
    rows_out: int = 0
    rows_dropped: int = 0
    rows_quarantined: int = 0
    table_versions: dict[str, int] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
