"""People matching: CRM contacts and leads as comparable records, linked to golden companies.

A person's company comes, in order, from the record's own account reference (a contact's
account, a converted lead's account) through the company xref, from the email's registrable
domain when exactly one golden company has it (lead-to-account), or from the company name when
exactly one golden company's records carry that name key. ``company_link`` says which.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from crm_lakehouse import normalise as N
from crm_lakehouse.match.companies import rank, uid
from crm_lakehouse.match.compare import apply_rules, both_differ, both_equal, jaro_winkler
from crm_lakehouse.match.config import PersonMatching


def _unique(df: DataFrame, key: str) -> DataFrame:
    """``key -> company_id`` where the key points at exactly one golden company."""
    return (
        df.where(F.col(key).isNotNull())
        .groupBy(key)
        .agg(F.countDistinct("company_id").alias("_n"), F.min("company_id").alias("company_id"))
        .where("_n = 1")
        .drop("_n")
    )


def person_candidates(
    person_records: DataFrame,
    company_xref: DataFrame,
    companies: DataFrame,
    company_keys: DataFrame,
) -> DataFrame:
    """Person records with ``company_id``, ``company_link`` and comparison keys.

    ``company_keys``: ``(name_key, company_id)`` of every company record (for leads naming a
    company); ``companies``: golden companies (``company_id``, ``domain``).
    """
    by_ref = company_xref.select(
        F.col("source_system").alias("_sys"),
        F.col("source_id").alias("company_source_id"),
        F.col("company_id").alias("_by_ref"),
    )
    by_domain = _unique(companies.select("company_id", F.col("domain").alias("email_domain")), "email_domain").withColumnRenamed("company_id", "_by_domain")  # fmt: skip
    by_name = _unique(company_keys, "name_key").withColumnRenamed("company_id", "_by_name")
    p = person_records.withColumn("name_key", N.company_name_key(F.col("company_name")))
    p = (
        p.join(
            by_ref,
            (p["source_system"] == by_ref["_sys"])
            & (p["company_source_id"] == by_ref["company_source_id"]),
            "left",
        )
        .drop("_sys")
        .drop(by_ref["company_source_id"])
        .join(by_domain, "email_domain", "left")
        .join(by_name, "name_key", "left")
    )
    company_id = F.coalesce("_by_ref", "_by_domain", "_by_name")
    link = (
        F.when(F.col("_by_ref").isNotNull(), F.lit("account_ref"))
        .when(F.col("_by_domain").isNotNull(), F.lit("email_domain"))
        .when(F.col("_by_name").isNotNull(), F.lit("company_name"))
    )
    first = N.person_name_key(F.col("first_name"))
    last = N.person_name_key(F.col("last_name"))
    return p.select(
        uid(F.col("source_system"), F.col("source_id")).alias("uid"),
        rank(F.col("first_seen"), F.col("source_system"), F.col("source_id")).alias("rank"),
        "source_system",
        "source_id",
        "record_kind",
        "first_name",
        "last_name",
        first.alias("first_key"),
        last.alias("last_key"),
        "email",
        F.col("phone_e164").alias("phone"),
        "title",
        "company_name",
        company_id.alias("company_id"),
        link.alias("company_link"),
        F.col("country_code").alias("country"),
        F.col("modified_at").alias("as_of"),
        F.lit(None).cast("double").alias("confidence"),
        "is_deleted",
        "first_seen",
        F.to_date("_delivery_date").alias("last_seen"),
    )


def person_blocking_keys(cfg: PersonMatching) -> dict[str, Column]:
    available: dict[str, Column] = {
        "email": F.col("email"),
        "phone": F.col("phone"),
        "company_last_name": F.when(
            F.col("company_id").isNotNull() & F.col("last_key").isNotNull(),
            F.concat_ws(":", "company_id", F.soundex("last_key")),
        ),
        "company_first_name": F.when(
            F.col("company_id").isNotNull() & F.col("first_key").isNotNull(),
            F.concat_ws(":", "company_id", "first_key"),
        ),
    }
    return {k: available[k] for k in cfg.blocking}


def compare_people(pairs: DataFrame, people: DataFrame, cfg: PersonMatching) -> DataFrame:
    """Features, score and matched rule of each candidate pair of person records.

    Name similarity is Jaro-Winkler of 'first last'; when either first name is missing it is
    the last names' similarity, so a record missing its first name can still match.
    """
    cols = ["uid", "first_key", "last_key", "email", "phone", "company_id"]
    side = people.select(*cols)
    left = side.select(*[F.col(c).alias(f"l_{c}") for c in cols])
    right = side.select(*[F.col(c).alias(f"r_{c}") for c in cols])
    j = pairs.join(left, F.col("uid_l") == F.col("l_uid")).join(
        right, F.col("uid_r") == F.col("r_uid")
    )

    def lr(c: str) -> tuple[Column, Column]:
        return F.col(f"l_{c}"), F.col(f"r_{c}")

    full_l = F.concat_ws(" ", "l_first_key", "l_last_key")
    full_r = F.concat_ws(" ", "r_first_key", "r_last_key")
    firsts = F.col("l_first_key").isNotNull() & F.col("r_first_key").isNotNull()
    sim = F.when(firsts, jaro_winkler(full_l, full_r)).otherwise(jaro_winkler(*lr("last_key")))
    featured = j.select(
        "uid_l",
        "uid_r",
        sim.alias("name_similarity"),
        both_equal(*lr("email")).alias("email"),
        both_equal(*lr("phone")).alias("phone"),
        both_equal(*lr("company_id")).alias("company"),
        both_equal(*lr("last_key")).alias("last_name"),
        both_differ(*lr("email")).alias("email_conflict"),
        both_differ(*lr("company_id")).alias("company_conflict"),
    )
    w = cfg.weights
    weights = {"name": w.name, "email": w.email, "phone": w.phone, "company": w.company}
    return apply_rules(featured, cfg.rules, weights, cfg.threshold)
