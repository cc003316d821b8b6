"""What one generation run produced: :class:`GenerationReport`, also written as manifest.json.

The manifest is the contract between the generator and its consumers (Bronze tests, quality
measurement, benchmarks): it says which files were delivered, how many data rows each holds
and how many of them are malformed or carry invalid UTF-8, which file is a redelivered copy
(its rows are *not* new records), which columns go beyond the registry (the schema change of
deltas), and how many faults of each kind were injected out of how many records that could
have taken them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from crm_lakehouse.config import FaultRates

GENERATOR = "crm_lakehouse.synthetic"
FORMAT_VERSION = 1


@dataclass(frozen=True)
class FileReport:
    """One delivered file. ``rows`` counts data rows (lines after any header), malformed ones
    included; ``redelivery_of`` names the file this one is a byte-identical copy of."""

    path: str  # relative to the landing folder, POSIX separators
    source: str
    entity: str
    format: str
    rows: int
    malformed_rows: int
    invalid_utf8_rows: int
    bytes: int
    sha256: str
    columns: tuple[str, ...]
    extra_columns: tuple[str, ...] = ()
    redelivery_of: str | None = None

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["columns"] = list(self.columns)
        d["extra_columns"] = list(self.extra_columns)
        return d


@dataclass(frozen=True)
class SchemaChange:
    """A column (CSV) or property (JSON, dotted path) delivered beyond the registry."""

    source: str
    entity: str
    change: str  # "added_column" | "added_property"
    column: str
    position: str  # "last" (trailing CSV column) or "properties" (extra nested key)
    introduced: str  # the first delivery date that carries it

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class GenerationReport:
    """The outcome of :func:`crm_lakehouse.synthetic.generate` for one date.

    ``total_records`` counts distinct delivered rows (redelivered copies excluded) and is the
    number to compare with ``scale`` for a full dump; ``total_rows`` includes the copies.
    Fault counts refer to this delivery's rows; ``fault_eligible`` gives the denominators.
    """

    landing: Path
    date: str
    seed: int
    scale: int
    mode: str  # "full" | "delta"
    base_date: str
    previous_dates: tuple[str, ...]
    faults: FaultRates
    files: tuple[FileReport, ...]
    total_rows: int
    total_records: int
    malformed_rows: int
    invalid_utf8_rows: int
    redelivered_rows: int
    fault_counts: Mapping[str, int]
    fault_eligible: Mapping[str, int]
    changes: Mapping[str, int]
    baseline_missing: Mapping[str, int]
    schema_changes: tuple[SchemaChange, ...]
    truth: Mapping[str, int]
    world_companies: int
    elapsed_seconds: float

    @property
    def rows_by_file(self) -> dict[str, int]:
        return {f.path: f.rows for f in self.files}

    @property
    def manifest_path(self) -> Path:
        return self.landing / "_truth" / self.date / "manifest.json"

    def to_manifest(self) -> dict[str, Any]:
        return {
            "generator": GENERATOR,
            "format_version": FORMAT_VERSION,
            "date": self.date,
            "seed": self.seed,
            "scale": self.scale,
            "mode": self.mode,
            "base_date": self.base_date,
            "previous_dates": list(self.previous_dates),
            "fault_rates": dataclasses.asdict(self.faults),
            "world": {"companies": self.world_companies},
            "files": [f.to_dict() for f in self.files],
            "totals": {
                "rows": self.total_rows,
                "records": self.total_records,
                "malformed_rows": self.malformed_rows,
                "invalid_utf8_rows": self.invalid_utf8_rows,
                "redelivered_rows": self.redelivered_rows,
            },
            "redeliveries": [
                {
                    "path": f.path,
                    "copy_of": f.redelivery_of,
                    "rows": f.rows,
                    "note": "byte-identical copy delivered again; its rows are not new records",
                }
                for f in self.files
                if f.redelivery_of
            ],
            "fault_counts": dict(self.fault_counts),
            "fault_eligible": dict(self.fault_eligible),
            "changes": dict(self.changes),
            "baseline_missing": dict(self.baseline_missing),
            "schema_changes": [s.to_dict() for s in self.schema_changes],
            "truth": dict(self.truth),
            "elapsed_seconds": round(self.elapsed_seconds, 3),
        }
