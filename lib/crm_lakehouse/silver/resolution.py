"""Golden companies and people from the Silver record tables, with stable ids.

Pure functions (:func:`resolve_companies`, :func:`resolve_people`, :func:`link_opportunities`)
compute the golden tables from the record tables; :func:`write_golden` publishes them through
the storage port with app transactions, so rerunning a date is a no-op. :func:`rebuild` runs
the same computation from the record tables alone (no previous golden state) and returns it.

Stable ids. Each record carries ``first_seen`` (its first delivery date, kept by the record
merge); a cluster's id is a hash of the source key of its oldest record (smallest
``first_seen, source_system, source_id``). Records that arrive later never predate the records
already there, so a record joining an existing cluster inherits its id, an unrelated record
changes no existing id, and when new evidence joins two golden records the older one's id
survives; the other id is recorded in ``silver.company_merges`` / ``silver.person_merges``
(found by comparing the previous xref with the new one). Because ids are a function of the
record tables only, a full rebuild gives the same ids as the incremental runs did, and ids do
not depend on partitioning or on the order rows arrive in.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from crm_lakehouse.match.blocking import candidate_pairs
from crm_lakehouse.match.cluster import connected_components
from crm_lakehouse.match.companies import (
    company_blocking_keys,
    company_candidates,
    compare_companies,
)
from crm_lakehouse.match.config import (
    CompanyMatching,
    MatchingConfig,
    PersonMatching,
    load_industries,
    load_matching,
)
from crm_lakehouse.match.people import compare_people, person_blocking_keys, person_candidates
from crm_lakehouse.survive.config import SurvivorshipConfig, load_survivorship
from crm_lakehouse.survive.engine import conflicts, survive

log = logging.getLogger(__name__)

COMPANY_RECORDS = "silver.company_records"
FIRMOGRAPHICS = "silver.firmographics"
PERSON_RECORDS = "silver.person_records"
OPPORTUNITIES = "silver.opportunities"
COMPANIES = "silver.companies"
COMPANY_XREF = "silver.company_xref"
COMPANY_MERGES = "silver.company_merges"
PEOPLE = "silver.people"
PERSON_XREF = "silver.person_xref"
PERSON_MERGES = "silver.person_merges"
PROVIDER_CONFLICTS = "silver.provider_conflicts"


@dataclass(frozen=True)
class ResolutionRules:
    matching: MatchingConfig
    survivorship: SurvivorshipConfig
    industries: Mapping[str, str | None]


def default_rules_dir() -> Path:
    """The rules folder used when none is given: ``./conf/rules`` when it holds the rules,
    else the repository's. Pipeline steps pass ``settings.rules_dir`` (``<conf-dir>/rules``)
    instead. The rules live in a subfolder because every ``conf/*.yaml`` other than
    ``base.yaml`` is taken for an environment overlay."""
    here = Path("conf") / "rules"
    if (here / "matching.yaml").is_file():
        return here
    return Path(__file__).resolve().parents[3] / "conf" / "rules"


@cache
def load_rules(rules_dir: Path | None = None) -> ResolutionRules:
    """Parse matching, survivorship and industry rules once (ConfigError lists all problems)."""
    d = rules_dir or default_rules_dir()
    return ResolutionRules(
        load_matching(d / "matching.yaml"),
        load_survivorship(d / "survivorship.yaml"),
        load_industries(d / "industries.yaml"),
    )


@dataclass(frozen=True)
class Clustered:
    """Records with their golden id, the best matched edge of each record, and figures."""

    records: DataFrame  # candidate columns + entity id, matched_rule, score
    metrics: dict[str, Any]


def golden_id(prefix: str, label: Column) -> Column:
    """``<prefix>-`` + 16 hex digits of SHA-256 of the oldest record's source key."""
    source_key = F.substring_index(label, "|", -2)
    return F.concat(F.lit(f"{prefix}-"), F.substring(F.sha2(source_key, 256), 1, 16))


def cluster(
    candidates: DataFrame,
    keys: Mapping[str, Column],
    compare: Callable[[DataFrame, DataFrame, Any], DataFrame],
    cfg: CompanyMatching | PersonMatching,
    id_column: str,
    prefix: str,
    name: str,
) -> Clustered:
    """Blocking -> comparison -> connected components -> ids, for one entity type."""
    g = cfg.guards
    blocks = candidate_pairs(candidates, keys, g.max_block_size)
    scored = compare(blocks.pairs, candidates, cfg).localCheckpoint()
    matches = scored.where("is_match")
    comps = connected_components(
        candidates.select("uid", "rank"),
        matches.select("uid_l", "uid_r"),
        max_iterations=g.max_iterations,
        max_cluster_size=g.max_cluster_size,
    )
    labels = comps.labels.withColumn(id_column, golden_id(prefix, F.col("label")))
    # The best matched edge of each record inside its final cluster explains its membership.
    ends = matches.select(
        F.col("uid_l").alias("uid"), F.col("uid_r").alias("other"), "score", "matched_rule"
    ).unionByName(
        matches.select(
            F.col("uid_r").alias("uid"), F.col("uid_l").alias("other"), "score", "matched_rule"
        )
    )
    lab = labels.select("uid", "label")
    inside = (
        ends.join(lab, "uid")
        .join(lab.withColumnRenamed("uid", "other").withColumnRenamed("label", "olabel"), "other")
        .where(F.col("label") == F.col("olabel"))
        .groupBy("uid")
        .agg(F.max(F.struct("score", "matched_rule")).alias("best"))
    )
    records = (
        candidates.join(labels.select("uid", id_column), "uid")
        .join(inside, "uid", "left")
        .withColumn("matched_rule", F.coalesce(F.col("best.matched_rule"), F.lit("singleton")))
        .withColumn("score", F.col("best.score"))
        .drop("best")
    )
    figures = scored.agg(
        F.count(F.lit(1)).alias("pairs"), F.count(F.when(F.col("is_match"), 1)).alias("matches")
    ).first()
    assert figures is not None
    metrics = {
        f"{name}.candidate_pairs": figures["pairs"],
        f"{name}.matched_pairs": figures["matches"],
        f"{name}.oversized_blocks": blocks.oversized.count(),
        f"{name}.oversized_clusters": comps.oversized.count(),
        f"{name}.label_iterations": comps.iterations,
        f"{name}.converged": comps.converged,
    }
    if metrics[f"{name}.oversized_clusters"]:
        log.warning(
            "%s: %s clusters above %s records left unmerged: %s",
            name,
            metrics[f"{name}.oversized_clusters"],
            g.max_cluster_size,
            [r.asDict() for r in comps.oversized.orderBy(F.desc("size")).limit(5).collect()],
        )
    return Clustered(records, metrics)


def _xref(records: DataFrame, id_column: str, extra: tuple[str, ...] = ()) -> DataFrame:
    return records.select(
        "source_system",
        "source_id",
        *extra,
        id_column,
        "matched_rule",
        F.col("score").cast("double").alias("score"),
        "first_seen",
        "last_seen",
    )


def _entity_summary(records: DataFrame, id_column: str, crm_deleted: Column) -> DataFrame:
    return records.groupBy(id_column).agg(
        F.count(F.lit(1)).alias("record_count"),
        F.array_sort(F.collect_set("source_system")).alias("source_systems"),
        crm_deleted.alias("is_deleted"),
        F.min("first_seen").alias("first_seen"),
        F.max("last_seen").alias("last_seen"),
    )


@dataclass(frozen=True)
class CompanyResolution:
    companies: DataFrame
    xref: DataFrame
    conflicts: DataFrame
    candidates: DataFrame
    metrics: dict[str, Any]


def resolve_companies(
    company_records: DataFrame | None, firmographics: DataFrame | None, rules: ResolutionRules
) -> CompanyResolution:
    """Golden companies, the company xref and provider conflicts from the record tables.

    A golden company is deleted when it has CRM records and all of them are deleted; provider
    records alone never delete a company.
    """
    cands = company_candidates(company_records, firmographics, rules.industries).localCheckpoint()
    cfg = rules.matching.companies
    clustered = cluster(
        cands, company_blocking_keys(cfg), compare_companies, cfg, "company_id", "CO", "companies"
    )
    recs = clustered.records.localCheckpoint()
    spec = rules.survivorship.company
    golden = survive(recs, spec, "company_id")
    crm = ~F.col("source_system").startswith("provider_")
    deleted = F.coalesce(F.min(F.when(crm, F.col("is_deleted").cast("int"))) == 1, F.lit(False))
    # Computed once: people resolution, the companies table and the conflicts all read it
    # (without the checkpoint, survivorship ran three times per Silver run).
    companies = golden.join(
        _entity_summary(recs, "company_id", deleted), "company_id"
    ).localCheckpoint()
    return CompanyResolution(
        companies=companies,
        xref=_xref(recs, "company_id"),
        conflicts=conflicts(recs, companies, spec, "company_id"),
        candidates=recs,
        metrics=clustered.metrics,
    )


@dataclass(frozen=True)
class PersonResolution:
    people: DataFrame
    xref: DataFrame
    metrics: dict[str, Any]


def resolve_people(
    person_records: DataFrame, companies: CompanyResolution, rules: ResolutionRules
) -> PersonResolution:
    """Golden people and the person xref; each person linked to a golden company."""
    keys = companies.candidates.select("name_key", "company_id")
    cands = person_candidates(
        person_records, companies.xref, companies.companies, keys
    ).localCheckpoint()
    cfg = rules.matching.people
    clustered = cluster(
        cands, person_blocking_keys(cfg), compare_people, cfg, "person_id", "PE", "people"
    )
    recs = clustered.records.localCheckpoint()
    golden = survive(recs, rules.survivorship.person, "person_id")
    deleted = F.coalesce(F.min(F.col("is_deleted").cast("int")) == 1, F.lit(False))
    summary = _entity_summary(recs, "person_id", deleted).join(
        recs.groupBy("person_id").agg(
            F.array_sort(F.collect_set("record_kind")).alias("record_kinds")
        ),
        "person_id",
    )
    return PersonResolution(
        people=golden.join(summary, "person_id"),
        xref=_xref(recs, "person_id", ("record_kind",)).join(
            recs.select("uid", "company_link", "source_system", "source_id").drop("uid"),
            ["source_system", "source_id"],
        ),
        metrics=clustered.metrics,
    )


def link_opportunities(opportunities: DataFrame, company_xref: DataFrame) -> DataFrame:
    """Opportunities with ``company_id`` of their Salesforce account's golden company."""
    ref = company_xref.select(
        F.col("source_system").alias("_sys"),
        F.col("source_id").alias("_acc"),
        F.col("company_id").alias("_company_id"),
    )
    cols = opportunities.columns
    joined = opportunities.join(
        ref,
        (F.col("source_system") == F.col("_sys")) & (F.col("company_source_id") == F.col("_acc")),
        "left",
    )
    return joined.select(
        *[F.col("_company_id").alias(c) if c == "company_id" else F.col(c) for c in cols]
    )


def merged_ids(previous: DataFrame, current: DataFrame, id_column: str, date: str) -> DataFrame:
    """Ids of the previous xref that no longer exist, each with the id most of its records
    now carry (ties: the smallest id): ``merged_id, merged_into, merged_on, records``."""
    prev = previous.select("source_system", "source_id", F.col(id_column).alias("merged_id"))
    cur = current.select("source_system", "source_id", F.col(id_column).alias("merged_into"))
    alive = current.select(F.col(id_column).alias("merged_id")).distinct()
    moved = (
        prev.join(alive, "merged_id", "left_anti")
        .join(cur, ["source_system", "source_id"])
        .groupBy("merged_id", "merged_into")
        .agg(F.count(F.lit(1)).alias("records"))
    )
    w = Window.partitionBy("merged_id").orderBy(F.desc("records"), F.asc("merged_into"))
    return (
        moved.withColumn("_r", F.row_number().over(w))
        .where("_r = 1")
        .select(
            "merged_id",
            "merged_into",
            F.to_date(F.lit(date)).alias("merged_on"),
            F.col("records").cast("long").alias("records"),
        )
    )


@dataclass(frozen=True)
class Golden:
    companies: CompanyResolution
    people: PersonResolution | None


def resolve_all(
    company_records: DataFrame | None,
    firmographics: DataFrame | None,
    person_records: DataFrame | None,
    rules: ResolutionRules,
) -> Golden:
    companies = resolve_companies(company_records, firmographics, rules)
    people = (
        resolve_people(person_records, companies, rules) if person_records is not None else None
    )
    return Golden(companies, people)


def with_metrics(g: Golden) -> dict[str, Any]:
    out = dict(g.companies.metrics)
    if g.people is not None:
        out.update(g.people.metrics)
    return out


__all__ = [
    "COMPANIES",
    "COMPANY_MERGES",
    "COMPANY_XREF",
    "PEOPLE",
    "PERSON_MERGES",
    "PERSON_XREF",
    "PROVIDER_CONFLICTS",
    "CompanyResolution",
    "Golden",
    "PersonResolution",
    "ResolutionRules",
    "link_opportunities",
    "load_rules",
    "merged_ids",
    "resolve_all",
    "resolve_companies",
    "resolve_people",
]
