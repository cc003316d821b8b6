"""Silver source records: Bronze rows typed and normalised, one current row per source record.

These tables are the cleaned, per-source layer that entity resolution reads: every CRM company,
person, opportunity and provider firmographic record with typed values and comparison keys.
Malformed Bronze rows (``_corrupt_record`` set) are not promoted; they stay in Bronze.
Resolution keys are computed here, once per record version: ``name_words`` and ``name_key``
(the company name's comparison words and compact key), ``registrable_domain``,
``country_code`` (ISO alpha-2), ``phone_e164`` (with ``phone_reason`` when a phone did not
parse), ``email_domain`` / ``email_reason`` for people, and ``first_seen``, the first delivery
date of the record, from which golden ids derive. ``silver.opportunities.company_id`` is
filled by the resolution that runs after the record merges.

Each ``standardise_*`` function is a pure ``DataFrame -> DataFrame`` transform of one Bronze
table; :func:`latest_per_key` keeps the newest version of each record within a batch, and the
step merges the batch into Silver with a condition that refuses older data.
"""

from __future__ import annotations

from collections.abc import Callable

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from crm_lakehouse import normalise as N

KEYS = ("source_system", "source_id")
REFUSE_OLDER = (
    "s.modified_at > t.modified_at OR t.modified_at IS NULL "
    "OR (s.modified_at = t.modified_at AND s._row_hash > t._row_hash)"
)


def _good(bronze: DataFrame) -> DataFrame:
    return bronze.where(F.col("_corrupt_record").isNull())


def _lineage() -> list[Column]:
    """Delivery lineage. ``first_seen`` is the record's first delivery date: the step keeps the
    stored value when a newer version arrives, since golden ids derive from it."""
    return [
        F.col("_delivery_date"),
        F.col("_row_hash"),
        F.to_date(F.col("_delivery_date")).alias("first_seen"),
    ]


def name_keys(name: Column) -> list[Column]:
    """The company name's comparison words (legal form and a leading 'the' removed) and its
    compact key (the words joined), computed once per record version here rather than by
    every resolution run over every record."""
    words = N.company_name_words(name)
    return [F.regexp_replace(words, " ", "").alias("name_key"), words.alias("name_words")]


def _company_keys(website: Column, phone: Column, country: Column) -> list[Column]:
    """Comparison keys for entity resolution: registrable domain, ISO country, E.164 phone."""
    iso = N.country_code(country)
    e164 = N.phone_e164(phone, iso)
    return [
        N.registrable_domain(website).alias("registrable_domain"),
        iso.alias("country_code"),
        e164.alias("phone_e164"),
        N.phone_reason(phone, e164).alias("phone_reason"),
    ]


def standardise_salesforce_accounts(bronze: DataFrame) -> DataFrame:
    return _good(bronze).select(
        F.lit("salesforce").alias("source_system"),
        F.trim("Id").alias("source_id"),
        N.clean_text(F.col("Name")).alias("name"),
        *name_keys(N.clean_text(F.col("Name"))),
        N.domain_from_url(F.col("Website")).alias("domain"),
        N.clean_text(F.col("Phone")).alias("phone"),
        N.clean_text(F.col("BillingStreet")).alias("street"),
        N.clean_text(F.col("BillingCity")).alias("city"),
        N.clean_text(F.col("BillingState")).alias("state"),
        N.clean_text(F.col("BillingPostalCode")).alias("postal_code"),
        N.clean_text(F.col("BillingCountry")).alias("country"),
        N.clean_text(F.col("Industry")).alias("industry"),
        N.money_to_usd(F.col("AnnualRevenue")).alias("revenue_usd"),
        N.employees_estimate(F.col("NumberOfEmployees")).alias("employees"),
        F.coalesce(N.to_bool(F.col("IsDeleted")), F.lit(False)).alias("is_deleted"),
        N.iso_timestamp(F.col("CreatedDate")).alias("created_at"),
        N.iso_timestamp(F.col("LastModifiedDate")).alias("modified_at"),
        *_company_keys(F.col("Website"), F.col("Phone"), F.col("BillingCountry")),
        *_lineage(),
    )


def standardise_hubspot_companies(bronze: DataFrame) -> DataFrame:
    p = "properties."
    return _good(bronze).select(
        F.lit("hubspot").alias("source_system"),
        F.trim("id").alias("source_id"),
        N.clean_text(F.col(p + "name")).alias("name"),
        *name_keys(N.clean_text(F.col(p + "name"))),
        N.domain_from_url(F.col(p + "domain")).alias("domain"),
        N.clean_text(F.col(p + "phone")).alias("phone"),
        N.clean_text(F.col(p + "address")).alias("street"),
        N.clean_text(F.col(p + "city")).alias("city"),
        N.clean_text(F.col(p + "state")).alias("state"),
        N.clean_text(F.col(p + "zip")).alias("postal_code"),
        N.clean_text(F.col(p + "country")).alias("country"),
        N.clean_text(F.col(p + "industry")).alias("industry"),
        N.money_to_usd(F.col(p + "annualrevenue")).alias("revenue_usd"),
        N.employees_estimate(F.col(p + "numberofemployees")).alias("employees"),
        F.coalesce(N.to_bool(F.col("archived")), F.lit(False)).alias("is_deleted"),
        N.epoch_ms_timestamp(F.col("createdAt")).alias("created_at"),
        N.epoch_ms_timestamp(F.col("updatedAt")).alias("modified_at"),
        *_company_keys(F.col(p + "domain"), F.col(p + "phone"), F.col(p + "country")),
        *_lineage(),
    )


def standardise_salesforce_contacts(bronze: DataFrame) -> DataFrame:
    return _person(
        _good(bronze),
        system="salesforce",
        kind="contact",
        source_id=F.col("Id"),
        company_ref=F.col("AccountId"),
        first=F.col("FirstName"),
        last=F.col("LastName"),
        email=F.col("Email"),
        phone=F.col("Phone"),
        title=F.col("Title"),
        company_name=F.lit(None).cast("string"),
        country=F.col("MailingCountry"),
        deleted=F.col("IsDeleted"),
        created=N.iso_timestamp(F.col("CreatedDate")),
        modified=N.iso_timestamp(F.col("LastModifiedDate")),
    )


def standardise_salesforce_leads(bronze: DataFrame) -> DataFrame:
    return _person(
        _good(bronze),
        system="salesforce",
        kind="lead",
        source_id=F.col("Id"),
        company_ref=F.col("ConvertedAccountId"),
        first=F.col("FirstName"),
        last=F.col("LastName"),
        email=F.col("Email"),
        phone=F.col("Phone"),
        title=F.col("Title"),
        company_name=F.col("Company"),
        country=F.col("Country"),
        deleted=F.col("IsDeleted"),
        created=N.iso_timestamp(F.col("CreatedDate")),
        modified=N.iso_timestamp(F.col("LastModifiedDate")),
        extra=[
            N.clean_text(F.col("LeadSource")).alias("lead_source"),
            N.clean_text(F.col("Status")).alias("lead_status"),
            N.to_bool(F.col("IsConverted")).alias("is_converted"),
        ],
    )


def standardise_hubspot_contacts(bronze: DataFrame) -> DataFrame:
    p = "properties."
    return _person(
        _good(bronze),
        system="hubspot",
        kind="contact",
        source_id=F.col("id"),
        company_ref=F.col(p + "associatedcompanyid"),
        first=F.col(p + "firstname"),
        last=F.col(p + "lastname"),
        email=F.col(p + "email"),
        phone=F.col(p + "phone"),
        title=F.col(p + "jobtitle"),
        company_name=F.col(p + "company"),
        country=F.col(p + "country"),
        deleted=F.col("archived"),
        created=N.epoch_ms_timestamp(F.col("createdAt")),
        modified=N.epoch_ms_timestamp(F.col("updatedAt")),
    )


def _person(
    df: DataFrame,
    *,
    system: str,
    kind: str,
    source_id: Column,
    company_ref: Column,
    first: Column,
    last: Column,
    email: Column,
    phone: Column,
    title: Column,
    company_name: Column,
    country: Column,
    deleted: Column,
    created: Column,
    modified: Column,
    extra: list[Column] | None = None,
) -> DataFrame:
    lead_cols = extra or [
        F.lit(None).cast("string").alias("lead_source"),
        F.lit(None).cast("string").alias("lead_status"),
        F.lit(None).cast("boolean").alias("is_converted"),
    ]
    return df.select(
        F.lit(system).alias("source_system"),
        F.trim(source_id).alias("source_id"),
        F.lit(kind).alias("record_kind"),
        N.clean_text(company_ref).alias("company_source_id"),
        N.clean_text(first).alias("first_name"),
        N.clean_text(last).alias("last_name"),
        N.email(email).alias("email"),
        N.clean_text(phone).alias("phone"),
        N.clean_text(title).alias("title"),
        N.clean_text(company_name).alias("company_name"),
        N.clean_text(country).alias("country"),
        *lead_cols,
        F.coalesce(N.to_bool(deleted), F.lit(False)).alias("is_deleted"),
        created.alias("created_at"),
        modified.alias("modified_at"),
        N.country_code(country).alias("country_code"),
        N.phone_e164(phone, N.country_code(country)).alias("phone_e164"),
        N.email_domain(email).alias("email_domain"),
        N.email_invalid_reason(email).alias("email_reason"),
        *_lineage(),
    )


def standardise_salesforce_opportunities(bronze: DataFrame) -> DataFrame:
    return _good(bronze).select(
        F.lit("salesforce").alias("source_system"),
        F.trim("Id").alias("source_id"),
        N.clean_text(F.col("AccountId")).alias("company_source_id"),
        N.clean_text(F.col("Name")).alias("name"),
        N.clean_text(F.col("StageName")).alias("stage"),
        N.to_double(F.col("Amount")).alias("amount"),
        F.upper(N.clean_text(F.col("CurrencyIsoCode"))).alias("currency"),
        N.to_double(F.col("Probability")).alias("probability"),
        N.iso_date(F.col("CloseDate")).alias("close_date"),
        N.to_bool(F.col("IsClosed")).alias("is_closed"),
        N.to_bool(F.col("IsWon")).alias("is_won"),
        N.clean_text(F.col("Type")).alias("opportunity_type"),
        N.clean_text(F.col("LeadSource")).alias("lead_source"),
        F.coalesce(N.to_bool(F.col("IsDeleted")), F.lit(False)).alias("is_deleted"),
        N.iso_timestamp(F.col("CreatedDate")).alias("created_at"),
        N.iso_timestamp(F.col("LastModifiedDate")).alias("modified_at"),
        # Filled by entity resolution (the account's golden company); null until then.
        F.lit(None).cast("string").alias("company_id"),
        *_lineage(),
    )


def _firmographic(
    df: DataFrame,
    *,
    provider: str,
    source_id: Column,
    name: Column,
    website: Column,
    country: Column,
    revenue_usd: Column,
    employees: Column,
    industry: Column,
    as_of: Column,
    confidence: Column,
) -> DataFrame:
    return _good(df).select(
        F.lit(provider).alias("source_system"),
        F.trim(source_id).alias("source_id"),
        N.clean_text(name).alias("name"),
        *name_keys(N.clean_text(name)),
        N.domain_from_url(website).alias("domain"),
        N.clean_text(country).alias("country"),
        revenue_usd.alias("revenue_usd"),
        employees.alias("employees"),
        N.clean_text(industry).alias("industry"),
        as_of.alias("as_of"),
        confidence.alias("confidence"),
        # Providers deliver snapshots, not edits: the as-of date orders their versions.
        as_of.cast("timestamp").alias("modified_at"),
        N.registrable_domain(website).alias("registrable_domain"),
        N.country_code(country).alias("country_code"),
        *_lineage(),
    )


def standardise_provider_a(bronze: DataFrame) -> DataFrame:
    return _firmographic(
        bronze,
        provider="provider_a",
        source_id=F.col("provider_id"),
        name=F.col("company_name"),
        website=F.col("domain"),
        country=F.col("country"),
        revenue_usd=N.money_to_usd(F.col("revenue_usd")),
        employees=N.employees_estimate(F.col("employees")),
        industry=F.col("naics"),
        as_of=N.iso_date(F.col("as_of")),
        confidence=N.to_double(F.col("confidence")),
    )


def standardise_provider_b(bronze: DataFrame) -> DataFrame:
    return _firmographic(
        bronze,
        provider="provider_b",
        source_id=F.col("id"),
        name=F.col("name"),
        website=F.col("website"),
        country=F.col("hq_country"),
        revenue_usd=N.to_double(F.col("revenue_k")) * F.lit(1000.0),
        employees=N.employees_estimate(F.col("employee_range")),
        industry=F.col("industry"),
        as_of=N.iso_date(F.col("as_of")),
        confidence=F.lit(None).cast("double"),
    )


def standardise_provider_c(bronze: DataFrame) -> DataFrame:
    return _firmographic(
        bronze,
        provider="provider_c",
        source_id=F.col("record_id"),
        name=F.col("org_name"),
        website=F.col("url"),
        country=F.col("country_code"),
        revenue_usd=N.money_to_usd(F.col("revenue")),
        employees=N.employees_estimate(F.col("headcount")),
        industry=F.col("sector"),
        as_of=N.day_first_date(F.col("last_verified")),
        confidence=N.to_double(F.col("score")),
    )


def latest_per_key(df: DataFrame, keys: tuple[str, ...] = KEYS) -> DataFrame:
    """Keep one row per key: the newest ``modified_at``, ties broken by the row hash."""
    w = Window.partitionBy(*keys).orderBy(
        F.col("modified_at").desc_nulls_last(), F.col("_row_hash").desc()
    )
    return df.withColumn("_rank", F.row_number().over(w)).where("_rank = 1").drop("_rank")


Standardiser = Callable[[DataFrame], DataFrame]

# Silver table -> the Bronze tables feeding it, each with its transform.
SILVER_SOURCES: dict[str, tuple[tuple[str, Standardiser], ...]] = {
    "silver.company_records": (
        ("bronze.salesforce_accounts", standardise_salesforce_accounts),
        ("bronze.hubspot_companies", standardise_hubspot_companies),
    ),
    "silver.person_records": (
        ("bronze.salesforce_contacts", standardise_salesforce_contacts),
        ("bronze.salesforce_leads", standardise_salesforce_leads),
        ("bronze.hubspot_contacts", standardise_hubspot_contacts),
    ),
    "silver.opportunities": (
        ("bronze.salesforce_opportunities", standardise_salesforce_opportunities),
    ),
    "silver.firmographics": (
        ("bronze.provider_a_firmographics", standardise_provider_a),
        ("bronze.provider_b_firmographics", standardise_provider_b),
        ("bronze.provider_c_firmographics", standardise_provider_c),
    ),
}
