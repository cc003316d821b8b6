"""The declared shape of every delivered file: sources, entities, formats and columns.

One registry serves the synthetic generator (what to write), Bronze ingestion (what to
expect, what counts as an extra or missing column) and the Bronze contracts. Landing files live
at ``<landing>/<source>/<YYYY-MM-DD>/<entity>[-<suffix>].<ext>``; folders whose name starts with
``_`` (such as ``_truth``, the generator's ground truth) are not deliveries.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from pathlib import Path

from crm_lakehouse.errors import UnknownSourceFileError


class FileFormat(enum.StrEnum):
    CSV = "csv"
    JSONL = "jsonl"


@dataclass(frozen=True)
class Entity:
    """One kind of record a source delivers.

    ``columns`` are the top-level fields in delivery order. For JSONL sources ``nested`` holds
    the fields of the ``properties`` object (HubSpot style); every value is kept as a string in
    Bronze, exactly as delivered.
    """

    source: str
    name: str
    columns: tuple[str, ...]
    key: str
    nested: tuple[str, ...] = ()
    nested_field: str | None = None

    @property
    def table(self) -> str:
        """The Bronze table name, ``<source>_<entity>``."""
        return f"{self.source}_{self.name}"


@dataclass(frozen=True)
class Source:
    name: str
    system: str
    format: FileFormat
    entities: tuple[Entity, ...]
    description: str

    def entity(self, name: str) -> Entity:
        for e in self.entities:
            if e.name == name:
                return e
        raise KeyError(f"source {self.name!r} has no entity {name!r}")


def _entity(source: str, name: str, columns: str, key: str, nested: str = "") -> Entity:
    return Entity(
        source=source,
        name=name,
        columns=tuple(columns.split()),
        key=key,
        nested=tuple(nested.split()),
        nested_field="properties" if nested else None,
    )


SALESFORCE = Source(
    name="salesforce",
    system="crm_a",
    format=FileFormat.CSV,
    description="Salesforce-style CSV export: 18-char ids, CamelCase headers, ISO timestamps.",
    entities=(
        _entity(
            "salesforce",
            "accounts",
            "Id Name Website Phone BillingStreet BillingCity BillingState BillingPostalCode "
            "BillingCountry Industry AnnualRevenue NumberOfEmployees OwnerId IsDeleted "
            "CreatedDate LastModifiedDate",
            key="Id",
        ),
        _entity(
            "salesforce",
            "contacts",
            "Id AccountId FirstName LastName Email Phone Title MailingCountry OwnerId IsDeleted "
            "CreatedDate LastModifiedDate",
            key="Id",
        ),
        _entity(
            "salesforce",
            "leads",
            "Id FirstName LastName Email Phone Company Website Title LeadSource Status "
            "IsConverted ConvertedAccountId ConvertedContactId Country IsDeleted CreatedDate "
            "LastModifiedDate",
            key="Id",
        ),
        _entity(
            "salesforce",
            "opportunities",
            "Id AccountId Name StageName Amount CurrencyIsoCode Probability CloseDate IsClosed "
            "IsWon Type LeadSource OwnerId IsDeleted CreatedDate LastModifiedDate",
            key="Id",
        ),
    ),
)

HUBSPOT = Source(
    name="hubspot",
    system="crm_b",
    format=FileFormat.JSONL,
    description="HubSpot-style JSONL export: nested properties, epoch-millisecond timestamps, "
    "revenue as strings, employee ranges.",
    entities=(
        _entity(
            "hubspot",
            "companies",
            "id createdAt updatedAt archived",
            key="id",
            nested="name domain phone address city state zip country industry annualrevenue "
            "numberofemployees hs_lastmodifieddate",
        ),
        _entity(
            "hubspot",
            "contacts",
            "id createdAt updatedAt archived",
            key="id",
            nested="firstname lastname email phone jobtitle company associatedcompanyid "
            "lifecyclestage country lastmodifieddate",
        ),
    ),
)

PROVIDER_A = Source(
    name="provider_a",
    system="provider_a",
    format=FileFormat.CSV,
    description="Firmographics provider A: revenue in USD, exact employee counts, NAICS codes, "
    "ISO country codes, a confidence score.",
    entities=(
        _entity(
            "provider_a",
            "firmographics",
            "provider_id company_name domain country revenue_usd employees naics as_of confidence",
            key="provider_id",
        ),
    ),
)

PROVIDER_B = Source(
    name="provider_b",
    system="provider_b",
    format=FileFormat.JSONL,
    description="Firmographics provider B: revenue in thousands of USD, employee ranges, "
    "free-text industry, country names.",
    entities=(
        _entity(
            "provider_b",
            "firmographics",
            "id name website hq_country revenue_k employee_range industry as_of",
            key="id",
        ),
    ),
)

PROVIDER_C = Source(
    name="provider_c",
    system="provider_c",
    format=FileFormat.CSV,
    description='Firmographics provider C: revenue as text ("$1.2M"), headcount as a number or '
    "range, sector text, day-first verification dates, a match score.",
    entities=(
        _entity(
            "provider_c",
            "firmographics",
            "record_id org_name url country_code revenue headcount sector last_verified score",
            key="record_id",
        ),
    ),
)

SOURCES: tuple[Source, ...] = (SALESFORCE, HUBSPOT, PROVIDER_A, PROVIDER_B, PROVIDER_C)
_BY_NAME = {s.name: s for s in SOURCES}
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def source(name: str) -> Source:
    try:
        return _BY_NAME[name]
    except KeyError:
        raise KeyError(f"unknown source {name!r} (known: {sorted(_BY_NAME)})") from None


def all_entities() -> tuple[Entity, ...]:
    return tuple(e for s in SOURCES for e in s.entities)


def landing_dir(landing: Path, source_name: str, date: str) -> Path:
    return landing / source_name / date


def classify_file(path: Path) -> Entity:
    """Map a landing file ``<landing>/<source>/<date>/<entity>[-suffix].<ext>`` to its entity.

    Raises :class:`UnknownSourceFileError` naming the file when the folder is not a declared
    source, the extension does not match the source's format, or no entity matches the name.
    """
    source_name = path.parent.parent.name
    src = _BY_NAME.get(source_name)
    if src is None:
        raise UnknownSourceFileError(
            f"{path}: folder {source_name!r} is not a declared source (known: {sorted(_BY_NAME)})"
        )
    if not _DATE.match(path.parent.name):
        raise UnknownSourceFileError(f"{path}: expected a YYYY-MM-DD delivery folder")
    ext = "".join(path.suffixes[-1:]).lstrip(".").lower()
    if ext != src.format.value:
        raise UnknownSourceFileError(
            f"{path}: source {src.name!r} delivers .{src.format.value} files, found .{ext or '?'}"
        )
    stem = path.name[: -len(ext) - 1]
    for ent in src.entities:
        if stem == ent.name or stem.startswith(ent.name + "-"):
            return ent
    raise UnknownSourceFileError(
        f"{path}: no entity of source {src.name!r} matches this file name "
        f"(expected one of {[e.name for e in src.entities]}, optionally with a '-suffix')"
    )
