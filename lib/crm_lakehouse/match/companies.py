"""Company matching: Salesforce accounts, HubSpot companies and provider records as one set
of comparable records, their blocking keys, and the comparison features of a pair."""

from __future__ import annotations

from collections.abc import Mapping

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from crm_lakehouse import normalise as N
from crm_lakehouse.match.compare import apply_rules, both_differ, both_equal, jaro_winkler
from crm_lakehouse.match.config import CompanyMatching

# The comparable shape of a company record, from either Silver record table.
COMPANY_COLUMNS = (
    "uid",
    "rank",
    "source_system",
    "source_id",
    "name",
    "name_words",
    "name_key",
    "domain",
    "phone",
    "street",
    "city",
    "city_key",
    "state",
    "postal_code",
    "country",
    "industry",
    "industry_reason",
    "revenue_usd",
    "employees",
    "as_of",
    "confidence",
    "is_deleted",
    "first_seen",
    "last_seen",
)


# The record column behind each cluster-level conflict a weak rule may forbid
# (``cluster_forbid`` in matching.yaml): a company's registrable domains and E.164 phones.
COMPANY_CLUSTER_ATTRIBUTES: Mapping[str, str] = {
    "domain_conflict": "domain",
    "phone_conflict": "phone",
}


def uid(system: Column, source_id: Column) -> Column:
    """The record key as one string: ``<source_system>:<source_id>``."""
    return F.concat_ws(":", system, source_id)


def rank(first_seen: Column, system: Column, source_id: Column) -> Column:
    """Sortable age of a record: first seen, then source key. The smallest rank of a cluster
    names it, so the oldest record's key becomes the golden id."""
    return F.concat_ws("|", F.date_format(first_seen, "yyyy-MM-dd"), system, source_id)


def company_candidates(
    company_records: DataFrame | None,
    firmographics: DataFrame | None,
    industry_labels: Mapping[str, str | None],
) -> DataFrame:
    """Both Silver company record tables in :data:`COMPANY_COLUMNS` shape.

    CRM records date their values by ``modified_at``; providers by ``as_of``.
    """
    frames = []
    if company_records is not None:
        c = company_records
        frames.append(
            c.select(
                "source_system",
                "source_id",
                "name",
                "name_words",
                "name_key",
                F.col("registrable_domain").alias("domain"),
                F.col("phone_e164").alias("phone"),
                "street",
                "city",
                "state",
                "postal_code",
                F.col("country_code").alias("country"),
                "industry",
                "revenue_usd",
                F.col("employees").cast("long").alias("employees"),
                F.col("modified_at").alias("as_of"),
                F.lit(None).cast("double").alias("confidence"),
                "is_deleted",
                "first_seen",
                F.to_date("_delivery_date").alias("last_seen"),
            )
        )
    if firmographics is not None:
        f = firmographics
        frames.append(
            f.select(
                "source_system",
                "source_id",
                "name",
                "name_words",
                "name_key",
                F.col("registrable_domain").alias("domain"),
                F.lit(None).cast("string").alias("phone"),
                F.lit(None).cast("string").alias("street"),
                F.lit(None).cast("string").alias("city"),
                F.lit(None).cast("string").alias("state"),
                F.lit(None).cast("string").alias("postal_code"),
                F.col("country_code").alias("country"),
                "industry",
                "revenue_usd",
                F.col("employees").cast("long").alias("employees"),
                F.col("as_of").cast("timestamp").alias("as_of"),
                "confidence",
                F.lit(False).alias("is_deleted"),
                "first_seen",
                F.to_date("_delivery_date").alias("last_seen"),
            )
        )
    if not frames:
        raise ValueError("company_candidates needs at least one record table")
    df = frames[0]
    for other in frames[1:]:
        df = df.unionByName(other)
    raw_industry = F.col("industry")
    return df.select(
        uid(F.col("source_system"), F.col("source_id")).alias("uid"),
        rank(F.col("first_seen"), F.col("source_system"), F.col("source_id")).alias("rank"),
        "source_system",
        "source_id",
        "name",
        "name_words",
        "name_key",
        "domain",
        "phone",
        "street",
        "city",
        N.person_name_key(F.col("city")).alias("city_key"),
        "state",
        F.upper(F.regexp_replace("postal_code", r"\s", "")).alias("postal_code"),
        "country",
        N.industry_code(raw_industry, industry_labels).alias("industry"),
        N.industry_reason(raw_industry, industry_labels).alias("industry_reason"),
        "revenue_usd",
        "employees",
        "as_of",
        "confidence",
        "is_deleted",
        "first_seen",
        "last_seen",
    )


def company_blocking_keys(cfg: CompanyMatching) -> dict[str, Column]:
    """The configured blocking keys as expressions over :data:`COMPANY_COLUMNS`."""
    words = F.split(F.col("name_words"), " ")
    phonetic = F.concat_ws(
        ":",
        F.soundex(F.try_element_at(words, F.lit(1))),
        F.soundex(F.try_element_at(words, F.lit(2))),
        F.coalesce(F.col("country"), F.lit("")),
    )
    available: dict[str, Column] = {
        "domain": F.col("domain"),
        "phone": F.col("phone"),
        "name_key": F.col("name_key"),
        "name_phonetic": F.when(F.col("name_words").isNotNull(), phonetic),
        "name_prefix": F.when(
            F.length("name_key") >= 4,
            F.concat_ws(":", F.substring("name_key", 1, 6), F.coalesce("country", F.lit(""))),
        ),
        "name_head": F.when(
            F.length("name_key") >= 6,
            F.concat_ws(
                ":",
                F.expr("substring(name_key, 1, div(length(name_key), 2) + 1)"),
                F.coalesce("country", F.lit("")),
            ),
        ),
        "postal_code": F.when(
            F.col("postal_code").isNotNull(), F.concat_ws(":", "country", "postal_code")
        ),
        "postal_initial": F.when(
            F.col("postal_code").isNotNull() & F.col("name_words").isNotNull(),
            F.concat_ws(":", "country", "postal_code", F.substring("name_words", 1, 1)),
        ),
    }
    return {k: available[k] for k in cfg.blocking}


def compare_companies(pairs: DataFrame, companies: DataFrame, cfg: CompanyMatching) -> DataFrame:
    """Features, score and matched rule of each candidate pair (``uid_l``, ``uid_r``).

    ``companies`` needs :data:`COMPANY_COLUMNS` (``uid`` and the keys). Matches of weak rules
    are only pairwise here: the links between firm clusters with conflicting domains or phones
    are vetoed when the clusters are formed (:data:`COMPANY_CLUSTER_ATTRIBUTES`,
    :func:`~crm_lakehouse.match.cluster.cluster_matches`).
    """
    cols = [
        "uid",
        "name_words",
        "name_key",
        "domain",
        "phone",
        "city_key",
        "postal_code",
        "country",
    ]
    side = companies.select(*cols)
    left = side.select(*[F.col(c).alias(f"l_{c}") for c in cols])
    right = side.select(*[F.col(c).alias(f"r_{c}") for c in cols])
    joined = pairs.join(left, F.col("uid_l") == F.col("l_uid")).join(
        right, F.col("uid_r") == F.col("r_uid")
    )

    def lr(c: str) -> tuple[Column, Column]:
        return F.col(f"l_{c}"), F.col(f"r_{c}")

    featured = joined.select(
        "uid_l",
        "uid_r",
        jaro_winkler(*lr("name_words")).alias("name_similarity"),
        both_equal(*lr("domain")).alias("domain"),
        both_equal(*lr("phone")).alias("phone"),
        both_equal(*lr("name_key")).alias("name_key"),
        both_equal(*lr("country")).alias("country"),
        (both_equal(*lr("city_key")) | both_equal(*lr("postal_code"))).alias("geo"),
        both_differ(*lr("domain")).alias("domain_conflict"),
        both_differ(*lr("country")).alias("country_conflict"),
    )
    w = cfg.weights
    weights = {
        "name": w.name,
        "domain": w.domain,
        "phone": w.phone,
        "geo": w.geo,
        "country": w.country,
    }
    return apply_rules(featured, cfg.rules, weights, cfg.threshold)
