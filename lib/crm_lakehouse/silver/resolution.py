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

Incremental nights. Each xref row keeps its record's resolution state: the ``fingerprint`` of
the candidate record it was resolved from (every column matching and survivorship read, plus
the rules' digest) and its ``block_keys``. Given the previously published tables
(:class:`Previous`), only the *region* of records that a night's changes can affect is
recomputed (:func:`~crm_lakehouse.match.region.affected_region` explains why that is exact),
and the golden rows of the region's ids are replaced. A region covering more than
:data:`FULL_SHARE` of the records, records removed from the record tables, a missing or
older-format previous state, or a full refresh recompute everything instead.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from crm_lakehouse.checkpoint import checkpoint
from crm_lakehouse.digest import row_hash
from crm_lakehouse.match.blocking import block_key_array, candidate_pairs
from crm_lakehouse.match.cluster import cluster_matches
from crm_lakehouse.match.companies import (
    COMPANY_CLUSTER_ATTRIBUTES,
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
from crm_lakehouse.match.region import Region, affected_region
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


RESOLUTION_VERSION = "2"
"""Bumped when a code change alters what resolution computes from the same records and rules:
it is part of every fingerprint, so the next night recomputes everything."""

FULL_SHARE = 0.3
"""An affected region above this share of the records is recomputed in full (cheaper than
the region's bookkeeping at that size)."""


@dataclass(frozen=True)
class ResolutionRules:
    matching: MatchingConfig
    survivorship: SurvivorshipConfig
    industries: Mapping[str, str | None]

    def digest(self) -> str:
        """What resolution results depend on besides the records: the three rule files as
        parsed, and :data:`RESOLUTION_VERSION`."""
        text = repr(
            (RESOLUTION_VERSION, self.matching, self.survivorship, sorted(self.industries.items()))
        )
        return hashlib.sha256(text.encode()).hexdigest()[:16]


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


def with_rid(candidates: DataFrame) -> DataFrame:
    """``candidates`` with ``rid``: a long that sorts like ``rank`` (checkpointed).

    Matching works on these longs instead of the string keys: shuffles of pairs and labels
    carry 8 bytes per id instead of ~40, and the smallest ``rid`` of a component is its oldest
    record, so label propagation needs no string comparisons. Ids are assigned after a range
    sort by rank, so ``monotonically_increasing_id`` (partition index in the high bits) follows
    the rank order; they hold for this run only.
    """
    return (
        candidates.orderBy("rank").withColumn("rid", F.monotonically_increasing_id())
    ).transform(checkpoint)


def with_resolution_state(
    candidates: DataFrame, keys: Mapping[str, Column], rules: ResolutionRules
) -> DataFrame:
    """Candidates with their ``block_keys`` and ``fingerprint`` (checkpointed).

    The fingerprint hashes every candidate column (null-safe: a value moving between columns
    changes it, see :func:`~crm_lakehouse.digest.row_hash`) together with the rules' digest, so
    a record counts as changed when anything resolution reads of it changed, or when the rules
    did.
    """
    fields = [f for f in candidates.schema.fields if f.name != "uid"]
    fingerprint = row_hash(fields, F.lit(rules.digest()))
    return candidates.select(
        "*", block_key_array(keys).alias("block_keys"), fingerprint.alias("fingerprint")
    ).transform(checkpoint)


NARROW_SCORED = ("uid_l", "uid_r", "score", "matched_rule", "is_match")


def cluster(
    candidates: DataFrame,
    compare: Callable[[DataFrame, DataFrame, Any], DataFrame],
    cfg: CompanyMatching | PersonMatching,
    id_column: str,
    prefix: str,
    name: str,
    cluster_attributes: Mapping[str, str] | None = None,
    region: Region | None = None,
) -> Clustered:
    """Blocking -> comparison -> connected components (weak links vetoed) -> ids, for one
    entity type. ``candidates`` carry ``block_keys`` (:func:`with_resolution_state`);
    ``cluster_attributes``: the record column behind each ``cluster_forbid`` conflict.

    With a ``region``, ``candidates`` are the region's records and its scored pairs are used
    instead of blocking and comparing again.
    """
    g = cfg.guards
    ranked = with_rid(candidates)
    work = ranked.select(
        F.col("rid").alias("uid"),
        F.col("rid").alias("rank"),
        *[c for c in ranked.columns if c not in ("uid", "rank", "rid")],
    )
    metrics: dict[str, Any] = {}
    if region is None:
        blocks = candidate_pairs(work, None, g.max_block_size)
        scored = compare(blocks.pairs, work, cfg).select(*NARROW_SCORED).transform(checkpoint)
        metrics[f"{name}.oversized_blocks"] = blocks.oversized.count()
    else:
        rid = ranked.select("uid", "rid")
        scored = (
            region.scored.join(rid.toDF("uid_l", "rid_l"), "uid_l")
            .join(rid.toDF("uid_r", "rid_r"), "uid_r")
            .select(
                F.least("rid_l", "rid_r").alias("uid_l"),
                F.greatest("rid_l", "rid_r").alias("uid_r"),
                "score",
                "matched_rule",
                "is_match",
            )
            .transform(checkpoint)
        )
        metrics.update({f"{name}.region_{k}": v for k, v in region.metrics.items()})
    clusters = cluster_matches(
        work,
        scored.where("is_match"),
        cfg.rules,
        cluster_attributes or {},
        max_iterations=g.max_iterations,
        max_cluster_size=g.max_cluster_size,
    )
    comps = clusters.components
    matches = clusters.matches.where("is_match")
    # The best matched edge of each record inside its final cluster explains its membership.
    ends = matches.select(
        F.col("uid_l").alias("uid"), F.col("uid_r").alias("other"), "score", "matched_rule"
    ).unionByName(
        matches.select(
            F.col("uid_r").alias("uid"), F.col("uid_l").alias("other"), "score", "matched_rule"
        )
    )
    oversized = comps.oversized.count()
    if oversized:  # an unmerged component's edges explain nothing
        lab = comps.labels.select("uid", "label")
        ends = (
            ends.join(lab, "uid")
            .join(lab.toDF("other", "olabel"), "other")
            .where(F.col("label") == F.col("olabel"))
        )
    best = ends.groupBy("uid").agg(F.max(F.struct("score", "matched_rule")).alias("best"))
    oldest = ranked.select(F.col("rid").alias("label"), F.col("rank").alias("_label_rank"))
    membership = (
        comps.labels.join(oldest, "label")
        .join(best, "uid", "left")
        .select(
            F.col("uid").alias("rid"),
            golden_id(prefix, F.col("_label_rank")).alias(id_column),
            F.coalesce(F.col("best.matched_rule"), F.lit("singleton")).alias("matched_rule"),
            F.col("best.score").alias("score"),
        )
    )
    records = ranked.join(membership, "rid").drop("rid")
    figures = scored.agg(
        F.count(F.lit(1)).alias("pairs"), F.count(F.when(F.col("is_match"), 1)).alias("matches")
    ).first()
    assert figures is not None
    metrics.update(
        {
            f"{name}.candidate_pairs": figures["pairs"],
            f"{name}.matched_pairs": matches.count(),
            f"{name}.oversized_clusters": oversized,
            f"{name}.label_iterations": comps.iterations,
            f"{name}.converged": comps.converged,
        }
    )
    if oversized:
        log.warning(
            "%s: %s clusters above %s records left unmerged: %s",
            name,
            oversized,
            g.max_cluster_size,
            [r.asDict() for r in comps.oversized.orderBy(F.desc("size")).limit(5).collect()],
        )
    return Clustered(records, metrics)


def _xref(
    records: DataFrame, id_column: str, extra: tuple[str, ...] = (), tail: tuple[str, ...] = ()
) -> DataFrame:
    return records.select(
        "source_system",
        "source_id",
        *extra,
        id_column,
        "matched_rule",
        F.col("score").cast("double").alias("score"),
        "first_seen",
        "last_seen",
        *tail,
        "fingerprint",
        "block_keys",
    )


def _entity_summary(
    records: DataFrame, id_column: str, crm_deleted: Column, *extra: Column
) -> DataFrame:
    return records.groupBy(id_column).agg(
        F.count(F.lit(1)).alias("record_count"),
        F.array_sort(F.collect_set("source_system")).alias("source_systems"),
        crm_deleted.alias("is_deleted"),
        F.min("first_seen").alias("first_seen"),
        F.max("last_seen").alias("last_seen"),
        *extra,
    )


@dataclass(frozen=True)
class Previous:
    """The published golden tables a night starts from (None: there are none yet)."""

    company_xref: DataFrame | None = None
    companies: DataFrame | None = None
    person_xref: DataFrame | None = None
    people: DataFrame | None = None

    @staticmethod
    def usable(xref: DataFrame | None, golden: DataFrame | None) -> bool:
        """Whether ``xref`` and ``golden`` exist and carry the resolution state (an xref
        written before it existed does not)."""
        return (
            xref is not None
            and golden is not None
            and {"fingerprint", "block_keys"} <= set(xref.columns)
        )


def _uid(df: DataFrame) -> Column:
    return F.concat_ws(":", df["source_system"], df["source_id"])


def _region(
    cands: DataFrame,
    previous_xref: DataFrame | None,
    previous_golden: DataFrame | None,
    id_column: str,
    compare: Callable[[DataFrame, DataFrame, Any], DataFrame],
    cfg: CompanyMatching | PersonMatching,
) -> Region | None:
    """The affected region, or None when a full recomputation is due (no usable previous
    tables, records removed, or the region covers more than :data:`FULL_SHARE` of them)."""
    if previous_xref is None or not Previous.usable(previous_xref, previous_golden):
        return None
    prev = previous_xref.select(
        _uid(previous_xref).alias("uid"),
        F.col(id_column).alias("id"),
        "fingerprint",
        "block_keys",
    )

    def score(pairs: DataFrame) -> DataFrame:
        return compare(pairs, cands, cfg).select(*NARROW_SCORED)

    region = affected_region(cands, prev, score, max_block_size=cfg.guards.max_block_size)
    if region is None:
        log.info("%s: records were removed since the last run; resolving all", id_column)
        return None
    total = cands.count()
    if region.metrics["records"] > FULL_SHARE * total:
        log.info(
            "%s: %s of %s records affected; resolving all",
            id_column,
            region.metrics["records"],
            total,
        )
        return None
    return region


@dataclass(frozen=True)
class Scope:
    """What an incremental night replaces: the golden ids whose rows are rewritten (the
    region's ids before and after, ``id``). None on a full recomputation."""

    ids: DataFrame


def _scope(region: Region, records: DataFrame, id_column: str) -> Scope:
    ids = region.previous_ids.unionByName(records.select(F.col(id_column).alias("id")))
    return Scope(ids.distinct().transform(checkpoint))


def _current(
    previous: DataFrame | None, new: DataFrame, id_column: str, scope: Scope | None
) -> DataFrame:
    """The whole table as it is after the night: ``new`` on a full run; otherwise the
    previous rows outside the scope's ids plus ``new``."""
    if scope is None or previous is None:
        return new
    kept = previous.join(
        F.broadcast(scope.ids.withColumnRenamed("id", id_column)), id_column, "left_anti"
    )
    return kept.unionByName(new.select(*previous.columns))


@dataclass(frozen=True)
class CompanyResolution:
    """``companies``, ``xref``, ``conflicts``: the rows to publish (all of them, or on an
    incremental night those of ``scope``); ``all_xref``, ``all_companies``: the whole tables
    after the night; ``name_keys``: ``(name_key, company_id)`` of every company record."""

    companies: DataFrame
    xref: DataFrame
    conflicts: DataFrame
    all_xref: DataFrame
    all_companies: DataFrame
    name_keys: DataFrame
    scope: Scope | None
    metrics: dict[str, Any]


def resolve_companies(
    company_records: DataFrame | None,
    firmographics: DataFrame | None,
    rules: ResolutionRules,
    previous: Previous | None = None,
) -> CompanyResolution:
    """Golden companies, the company xref and provider conflicts from the record tables.

    A golden company is deleted when it has CRM records and all of them are deleted; provider
    records alone never delete a company.
    """
    cfg = rules.matching.companies
    cands = with_resolution_state(
        company_candidates(company_records, firmographics, rules.industries),
        company_blocking_keys(cfg),
        rules,
    )
    prev = previous or Previous()
    region = _region(cands, prev.company_xref, prev.companies, "company_id", compare_companies, cfg)
    scoped = cands if region is None else cands.join(F.broadcast(region.uids), "uid")
    clustered = cluster(
        scoped,
        compare_companies,
        cfg,
        "company_id",
        "CO",
        "companies",
        COMPANY_CLUSTER_ATTRIBUTES,
        region,
    )
    recs = clustered.records.transform(checkpoint)
    spec = rules.survivorship.company
    golden = survive(recs, spec, "company_id")
    crm = ~F.col("source_system").startswith("provider_")
    deleted = F.coalesce(F.min(F.when(crm, F.col("is_deleted").cast("int"))) == 1, F.lit(False))
    # Computed once: people resolution, the companies table and the conflicts all read it
    # (without the checkpoint, survivorship ran three times per Silver run).
    companies = golden.join(_entity_summary(recs, "company_id", deleted), "company_id").transform(
        checkpoint
    )
    xref = _xref(recs, "company_id")
    scope = _scope(region, recs, "company_id") if region is not None else None
    all_xref = _current(prev.company_xref, xref, "company_id", scope)
    ids = all_xref.select(_uid(all_xref).alias("uid"), "company_id")
    return CompanyResolution(
        companies=companies,
        xref=xref,
        conflicts=conflicts(recs, companies, spec, "company_id"),
        all_xref=all_xref,
        all_companies=_current(prev.companies, companies, "company_id", scope),
        name_keys=cands.select("uid", "name_key").join(ids, "uid").drop("uid"),
        scope=scope,
        metrics={**clustered.metrics, "companies.incremental": region is not None},
    )


@dataclass(frozen=True)
class PersonResolution:
    people: DataFrame
    xref: DataFrame
    scope: Scope | None
    metrics: dict[str, Any]


def resolve_people(
    person_records: DataFrame,
    companies: CompanyResolution,
    rules: ResolutionRules,
    previous: Previous | None = None,
) -> PersonResolution:
    """Golden people and the person xref; each person linked to a golden company.

    Every person record's company link is looked up in the companies as they are after the
    night, so a record whose company changed has a new fingerprint and is resolved again.
    """
    cfg = rules.matching.people
    cands = with_resolution_state(
        person_candidates(
            person_records, companies.all_xref, companies.all_companies, companies.name_keys
        ),
        person_blocking_keys(cfg),
        rules,
    )
    prev = previous or Previous()
    region = _region(cands, prev.person_xref, prev.people, "person_id", compare_people, cfg)
    scoped = cands if region is None else cands.join(F.broadcast(region.uids), "uid")
    clustered = cluster(scoped, compare_people, cfg, "person_id", "PE", "people", None, region)
    recs = clustered.records.transform(checkpoint)
    golden = survive(recs, rules.survivorship.person, "person_id")
    deleted = F.coalesce(F.min(F.col("is_deleted").cast("int")) == 1, F.lit(False))
    summary = _entity_summary(
        recs, "person_id", deleted, F.array_sort(F.collect_set("record_kind")).alias("record_kinds")
    )
    return PersonResolution(
        people=golden.join(summary, "person_id"),
        xref=_xref(recs, "person_id", ("record_kind",), ("company_link",)),
        scope=_scope(region, recs, "person_id") if region is not None else None,
        metrics={**clustered.metrics, "people.incremental": region is not None},
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
    previous: Previous | None = None,
) -> Golden:
    """Both entity types; with ``previous`` (the published golden tables) only the affected
    regions are recomputed where that is possible (see the module docstring)."""
    companies = resolve_companies(company_records, firmographics, rules, previous)
    people = (
        resolve_people(person_records, companies, rules, previous)
        if person_records is not None
        else None
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
    "Previous",
    "ResolutionRules",
    "Scope",
    "link_opportunities",
    "load_rules",
    "merged_ids",
    "resolve_all",
    "resolve_companies",
    "resolve_people",
]
