"""Ground truth files and the delivery chain read back from earlier manifests.

``_truth/<date>/`` holds, next to ``manifest.json``:

* ``companies.csv``: every company of the world as of that date, with its true attributes;
* ``people.csv``: every person as of that date;
* ``source_records.csv``: one row per record delivered on that date (malformed ones included,
  their ids stay readable), mapping ``(source, entity, source_id)`` to the true entity, with the
  kind of change, the faults the row carries and where it is (file and 1-based data line).

Truth files are plain, valid UTF-8 CSV written with the same quoting rules as deliveries.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

from crm_lakehouse.config import FaultRates
from crm_lakehouse.synthetic.report import FORMAT_VERSION, GENERATOR
from crm_lakehouse.synthetic.world import Tree
from crm_lakehouse.synthetic.writer import CsvSink

COMPANY_COLUMNS = (
    "company_id",
    "name",
    "domain",
    "phone",
    "street",
    "city",
    "state",
    "postal_code",
    "country",
    "industry",
    "naics",
    "revenue_usd",
    "employees",
    "category",
)
PEOPLE_COLUMNS = (
    "person_id",
    "first_name",
    "last_name",
    "email",
    "phone",
    "title",
    "country",
    "company_id",
)
SOURCE_RECORD_COLUMNS = (
    "source",
    "entity",
    "source_id",
    "entity_kind",
    "true_id",
    "company_id",
    "change",
    "faults",
    "file",
    "line",
)


TRUTH_FILES = ("companies.csv", "people.csv", "source_records.csv")


def truth_dir(landing: Path, date: str) -> Path:
    return landing / "_truth" / date


class TruthWriter:
    """Streams the three truth tables of one date."""

    def __init__(self, folder: Path) -> None:
        self.companies = CsvSink(folder / "companies.csv", COMPANY_COLUMNS)
        self.people = CsvSink(folder / "people.csv", PEOPLE_COLUMNS)
        self.records = CsvSink(folder / "source_records.csv", SOURCE_RECORD_COLUMNS)

    def tree(self, tree: Tree, idx: int) -> None:
        """The company and its people as of delivery ``idx``."""
        st = tree.state(idx)
        self.companies.write(
            (
                tree.company_id,
                tree.name,
                st.domain or "",
                st.phone,
                st.street,
                tree.city.name,
                tree.city.state_code,
                tree.postal_code,
                tree.country.iso2,
                tree.industry.sector,
                tree.naics,
                str(st.revenue_usd),
                str(st.employees),
                tree.category.name,
            )
        )
        for person in tree.people:
            ps = person.state(idx)
            self.people.write(
                (
                    person.person_id,
                    person.first_name,
                    person.last_name,
                    person.email,
                    ps.phone,
                    ps.title,
                    person.country,
                    tree.company_id,
                )
            )

    def record(self, values: tuple[str, ...]) -> None:
        self.records.write(values)

    def close(self) -> None:
        for sink in (self.companies, self.people, self.records):
            sink.close()


@dataclasses.dataclass(frozen=True)
class Chain:
    """Earlier deliveries of the same world (same seed and scale), oldest first."""

    dates: tuple[str, ...]
    rates: tuple[FaultRates | None, ...]  # None where that date's manifest is gone


def find_chain(landing: Path, seed: int, scale: int, date: str) -> Chain:
    """Dates before ``date`` delivered from the same seed and scale, per the manifests found
    under ``_truth/`` (plus the dates those manifests list as their own predecessors, so a
    removed intermediate manifest does not change the world). Unreadable manifests and ones
    from another generator version, seed or scale are ignored."""
    found: dict[str, dict[str, Any]] = {}
    root = landing / "_truth"
    if root.is_dir():
        for path in sorted(root.glob("*/manifest.json")):
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue
            if (
                isinstance(data, dict)
                and data.get("generator") == GENERATOR
                and data.get("format_version") == FORMAT_VERSION
                and data.get("seed") == seed
                and data.get("scale") == scale
                and isinstance(data.get("date"), str)
                and data["date"] < date
            ):
                found[data["date"]] = data
    dates = set(found)
    for data in found.values():
        dates.update(d for d in data.get("previous_dates", []) if isinstance(d, str) and d < date)
    chain = tuple(sorted(dates))
    rates: list[FaultRates | None] = []
    for d in chain:
        raw = found.get(d, {}).get("fault_rates")
        try:
            rates.append(FaultRates(**raw) if isinstance(raw, dict) else None)
        except TypeError:
            rates.append(None)
    return Chain(chain, tuple(rates))


def write_manifest(path: Path, manifest: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    tmp.replace(path)
