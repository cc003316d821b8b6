"""Typed loader for ``conf/rules/gold.yaml`` and the Spark columns it defines.

Segments, size bands, regions, industry names, reporting currency rates and the revenue window
are rules analysts argue about, so they live in configuration, parsed once into frozen
dataclasses with the same helpers (and the same error style) as the base configuration:
unknown keys, wrong types and inconsistent rules are reported together with the file and key.
"""

from __future__ import annotations

import hashlib
import json
import re
import typing
from collections.abc import Mapping
from dataclasses import dataclass, fields
from decimal import Decimal, InvalidOperation
from pathlib import Path

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from crm_lakehouse.config import _build, _read_yaml
from crm_lakehouse.errors import ConfigError

#: The survived company attributes account_360 carries (PII ones, phone and street, excluded).
FIRMOGRAPHIC_ATTRIBUTES = (
    "name",
    "domain",
    "industry",
    "revenue_usd",
    "employees",
    "country",
    "state",
    "city",
    "postal_code",
)

_COUNTRY = re.compile(r"^[A-Z]{2}$")
_CURRENCY = re.compile(r"^[A-Z]{3}$")


@dataclass(frozen=True)
class SizeBand:
    name: str
    max_employees: int | None = None


@dataclass(frozen=True)
class Segment:
    name: str
    min_employees: int | None = None
    min_revenue_usd: float | None = None


@dataclass(frozen=True)
class Region:
    name: str
    countries: tuple[str, ...]


@dataclass(frozen=True)
class GoldRules:
    size_bands: tuple[SizeBand, ...]
    unknown_size_band: str
    segments: tuple[Segment, ...]
    unknown_segment: str
    regions: tuple[Region, ...]
    unknown_region: str
    industry_names: Mapping[str, str]
    currency_rates_usd: Mapping[str, str]
    won_revenue_window_months: int
    completeness_attributes: tuple[str, ...]
    max_keys_per_write: int

    def rate(self, currency: str) -> Decimal:
        return Decimal(self.currency_rates_usd[currency])

    def fingerprint(self) -> str:
        """A digest of every rule: a Gold table built with other rules is rebuilt in full."""
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        text = json.dumps(data, sort_keys=True, default=_plain)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


def _plain(value: object) -> object:
    if isinstance(value, Mapping):
        return dict(value)
    if hasattr(value, "__dataclass_fields__"):
        return {f.name: getattr(value, f.name) for f in fields(value)}  # type: ignore[arg-type]
    raise TypeError(type(value).__name__)


def default_gold_rules_path() -> Path:
    from crm_lakehouse.silver.resolution import default_rules_dir

    return default_rules_dir() / "gold.yaml"


def load_gold_rules(path: Path | str | None = None) -> GoldRules:
    """Read and validate ``gold.yaml``; raise :class:`ConfigError` listing every problem."""
    path = Path(path) if path is not None else default_gold_rules_path()
    problems: list[str] = []
    data = _read_yaml(path, problems)
    if problems:
        raise ConfigError(problems)
    cfg = _build(GoldRules, data, "", {str(k): str(path) for k in data}, problems)
    if cfg is not None and not problems:
        _check(typing.cast(GoldRules, cfg), path, problems)
    if problems or cfg is None:
        where = f"{path}:"
        raise ConfigError(
            [p if p.startswith(where) else f"{where} {p}" for p in problems]
            or [f"{where} could not be read"]
        )
    return typing.cast(GoldRules, cfg)


def _check(cfg: GoldRules, path: Path, problems: list[str]) -> None:
    where = f"{path}:"
    bands = cfg.size_bands
    if not bands:
        problems.append(f"{where} size_bands: at least one band is required")
    previous = -1
    for i, band in enumerate(bands):
        last = i == len(bands) - 1
        if band.max_employees is None and not last:
            problems.append(f"{where} size_bands[{i}]: only the last band may omit max_employees")
        if band.max_employees is not None:
            if last:
                problems.append(
                    f"{where} size_bands[{i}]: the last band must omit max_employees "
                    "(it takes every larger company)"
                )
            if band.max_employees <= previous:
                problems.append(
                    f"{where} size_bands[{i}].max_employees: must be greater than the previous "
                    f"band's ({previous}), found {band.max_employees}"
                )
            previous = band.max_employees
    segs = cfg.segments
    if not segs:
        problems.append(f"{where} segments: at least one segment is required")
    for i, seg in enumerate(segs):
        catch_all = seg.min_employees is None and seg.min_revenue_usd is None
        if catch_all != (i == len(segs) - 1):
            problems.append(
                f"{where} segments[{i}] ({seg.name}): "
                + (
                    "the last segment must have no threshold (it takes every other company)"
                    if not catch_all
                    else "only the last segment may have no threshold"
                )
            )
        for name in ("min_employees", "min_revenue_usd"):
            value = getattr(seg, name)
            if value is not None and value < 0:
                problems.append(f"{where} segments[{i}].{name}: must be >= 0, found {value}")
    for label, names in (("size_bands", [b.name for b in bands]), ("segments", [s.name for s in segs]), ("regions", [r.name for r in cfg.regions])):  # fmt: skip
        for dup in sorted({n for n in names if names.count(n) > 1}):
            problems.append(f"{where} {label}: {dup!r} declared twice")
    seen: dict[str, str] = {}
    for i, region in enumerate(cfg.regions):
        for code in region.countries:
            if not isinstance(code, str) or not _COUNTRY.match(code):
                problems.append(
                    f"{where} regions[{i}].countries: {code!r} is not an ISO 3166-1 alpha-2 code"
                )
            elif code in seen:
                problems.append(
                    f"{where} regions[{i}].countries: {code} is already in region {seen[code]!r}"
                )
            else:
                seen[code] = region.name
    for currency, rate in cfg.currency_rates_usd.items():
        if not _CURRENCY.match(currency):
            problems.append(f"{where} currency_rates_usd.{currency}: not an ISO 4217 code")
        try:
            ok = Decimal(rate) > 0
        except InvalidOperation:
            ok = False
        if not ok:
            problems.append(
                f"{where} currency_rates_usd.{currency}: expected a positive number, found {rate!r}"
            )
    if cfg.won_revenue_window_months < 1:
        problems.append(f"{where} won_revenue_window_months: must be at least 1")
    if not cfg.completeness_attributes:
        problems.append(f"{where} completeness_attributes: at least one attribute is required")
    for a in cfg.completeness_attributes:
        if a not in FIRMOGRAPHIC_ATTRIBUTES:
            problems.append(
                f"{where} completeness_attributes: {a!r} is not one of {list(FIRMOGRAPHIC_ATTRIBUTES)}"
            )
    if cfg.max_keys_per_write < 1:
        problems.append(f"{where} max_keys_per_write: must be at least 1")


# ---------------------------------------------------------------------- columns from the rules


def size_band(rules: GoldRules, employees: Column) -> Column:
    out: Column = F.lit(rules.unknown_size_band)
    for band in reversed(rules.size_bands):
        cond = employees.isNotNull()
        if band.max_employees is not None:
            cond = cond & (employees <= band.max_employees)
        out = F.when(cond, F.lit(band.name)).otherwise(out)
    return out


def segment(rules: GoldRules, employees: Column, revenue_usd: Column) -> Column:
    known = employees.isNotNull() | revenue_usd.isNotNull()
    out: Column = F.lit(rules.unknown_segment)
    for seg in reversed(rules.segments):
        cond = F.lit(False)
        if seg.min_employees is not None:
            cond = cond | F.coalesce(employees >= seg.min_employees, F.lit(False))
        if seg.min_revenue_usd is not None:
            cond = cond | F.coalesce(revenue_usd >= seg.min_revenue_usd, F.lit(False))
        if seg.min_employees is None and seg.min_revenue_usd is None:
            cond = known
        out = F.when(cond, F.lit(seg.name)).otherwise(out)
    return out


def region(rules: GoldRules, country: Column) -> Column:
    out: Column = F.lit(rules.unknown_region)
    for r in reversed(rules.regions):
        out = F.when(country.isin(list(r.countries)), F.lit(r.name)).otherwise(out)
    return out


def industry_name(rules: GoldRules, industry: Column) -> Column:
    if not rules.industry_names:
        return F.lit(None).cast("string")
    pairs = [x for k, v in sorted(rules.industry_names.items()) for x in (F.lit(k), F.lit(v))]
    return F.create_map(*pairs)[industry]


def company_dimensions(companies: DataFrame, rules: GoldRules) -> DataFrame:
    """``company_id, segment, size_band, region, industry, industry_name`` of every company."""
    return companies.select(
        "company_id",
        segment(rules, F.col("employees"), F.col("revenue_usd")).alias("segment"),
        size_band(rules, F.col("employees")).alias("size_band"),
        region(rules, F.col("country")).alias("region"),
        F.col("industry"),
        industry_name(rules, F.col("industry")).alias("industry_name"),
    )


def usd_rate(rules: GoldRules, currency: Column) -> Column:
    """The configured rate of ``currency`` as decimal(18,6); null for an unlisted currency."""
    out: Column = F.lit(None).cast("decimal(18,6)")
    for code, rate in sorted(rules.currency_rates_usd.items()):
        out = F.when(currency == code, F.lit(rate).cast("decimal(18,6)")).otherwise(out)
    return out


__all__ = [
    "FIRMOGRAPHIC_ATTRIBUTES",
    "GoldRules",
    "Region",
    "Segment",
    "SizeBand",
    "company_dimensions",
    "default_gold_rules_path",
    "industry_name",
    "load_gold_rules",
    "region",
    "segment",
    "size_band",
    "usd_rate",
]
