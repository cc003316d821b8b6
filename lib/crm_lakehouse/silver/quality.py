"""Resolution quality against the synthetic generator's ground truth (``landing/_truth``).

Pairwise precision / recall / F1: over the source records present in both the xref and the
truth, a pair of records is *predicted* when they share a golden id and *true* when they share
a true entity id; counts come from group sizes (n * (n - 1) / 2), so no pairs are enumerated.
Survivorship accuracy per attribute: each golden entity stands for the true entity most of its
records belong to; accuracy is the share of its non-null golden values equal to the true value
after normalisation (name keys, case, E.164, NAICS sector; revenue within 2 %, employees in
the same size band as the generator's ranges).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from pyspark.sql import Column, DataFrame, SparkSession, Window
from pyspark.sql import functions as F

from crm_lakehouse import normalise as N

COMPANY_ENTITIES = ("accounts", "companies", "firmographics")
PERSON_ENTITIES = ("contacts", "leads")
_BANDS = (10, 50, 200, 500, 1000, 5000, 10000)


@dataclass(frozen=True)
class PairScores:
    precision: float
    recall: float
    f1: float
    records: int
    true_pairs: int
    predicted_pairs: int
    correct_pairs: int


def _read_truth(spark: SparkSession, landing: Path, dates: Sequence[str], name: str) -> DataFrame:
    paths = [str(landing / "_truth" / d / name) for d in dates]
    return spark.read.csv(paths, header=True, inferSchema=False, encoding="UTF-8")


def truth_records(spark: SparkSession, landing: Path, dates: Sequence[str]) -> DataFrame:
    """``(source_system, source_id, entity, true_id)`` of every delivered record, once."""
    t = _read_truth(spark, landing, dates, "source_records.csv")
    return t.select(
        F.col("source").alias("source_system"), "source_id", "entity", "true_id"
    ).dropDuplicates(["source_system", "source_id"])


def _pairs(col: Column) -> Column:
    return F.sum(col * (col - 1) / 2)


def pairwise(xref: DataFrame, truth: DataFrame, id_column: str) -> PairScores:
    """Pairwise precision, recall and F1 of ``xref`` clusters against ``truth``."""
    j = (
        xref.select("source_system", "source_id", id_column)
        .join(truth.select("source_system", "source_id", "true_id"), ["source_system", "source_id"])
        .persist()
    )
    try:
        records = j.count()
        pred = j.groupBy(id_column).count().agg(_pairs(F.col("count"))).first()
        true = j.groupBy("true_id").count().agg(_pairs(F.col("count"))).first()
        both = j.groupBy(id_column, "true_id").count().agg(_pairs(F.col("count"))).first()
    finally:
        j.unpersist()
    p_pairs = int((pred or [0])[0] or 0)
    t_pairs = int((true or [0])[0] or 0)
    c_pairs = int((both or [0])[0] or 0)
    precision = c_pairs / p_pairs if p_pairs else 1.0
    recall = c_pairs / t_pairs if t_pairs else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return PairScores(precision, recall, f1, records, t_pairs, p_pairs, c_pairs)


def majority_truth(xref: DataFrame, truth: DataFrame, id_column: str) -> DataFrame:
    """``(id_column, true_id)``: the true entity most records of each golden entity have."""
    j = xref.join(truth, ["source_system", "source_id"])
    counts = j.groupBy(id_column, "true_id").count()
    w = Window.partitionBy(id_column).orderBy(F.desc("count"), F.asc("true_id"))
    return counts.withColumn("_r", F.row_number().over(w)).where("_r = 1").drop("_r", "count")


def _band(col: Column) -> Column:
    out: Column = F.lit(len(_BANDS))
    for i, hi in reversed(list(enumerate(_BANDS))):
        out = F.when(col <= hi, F.lit(i)).otherwise(out)
    return F.when(col.isNotNull(), out)


def _accuracy(joined: DataFrame, checks: dict[str, tuple[Column, Column]]) -> dict[str, float]:
    aggs = []
    for attr, (golden, true) in checks.items():
        present = golden.isNotNull() & true.isNotNull()
        aggs += [
            F.count(F.when(present, 1)).alias(f"{attr}__n"),
            F.count(F.when(present & (golden == true), 1)).alias(f"{attr}__ok"),
        ]
    row = joined.agg(*aggs).first()
    assert row is not None
    return {a: (row[f"{a}__ok"] / row[f"{a}__n"] if row[f"{a}__n"] else 1.0) for a in checks}


def company_accuracy(
    companies: DataFrame, xref: DataFrame, truth: DataFrame, true_companies: DataFrame
) -> dict[str, float]:
    """Survivorship accuracy per company attribute."""
    m = majority_truth(xref, truth, "company_id")
    t = true_companies.select(
        F.col("company_id").alias("true_id"),
        *[F.col(c).alias(f"t_{c}") for c in true_companies.columns if c != "company_id"],
    )
    j = companies.join(m, "company_id").join(t, "true_id")
    rev, t_rev = F.col("revenue_usd"), F.col("t_revenue_usd").cast("double")
    return _accuracy(
        j,
        {
            "name": (N.company_name_key(F.col("name")), N.company_name_key(F.col("t_name"))),
            "domain": (F.col("domain"), N.registrable_domain(F.col("t_domain"))),
            "phone": (F.col("phone"), F.col("t_phone")),
            "country": (F.col("country"), F.col("t_country")),
            "city": (N.person_name_key(F.col("city")), N.person_name_key(F.col("t_city"))),
            "postal_code": (
                F.col("postal_code"),
                F.upper(F.regexp_replace("t_postal_code", r"\s", "")),
            ),
            "industry": (F.col("industry"), F.col("t_industry")),
            "revenue_usd": (
                F.when(rev.isNotNull(), F.abs(rev - t_rev) <= 0.02 * t_rev),
                F.when(t_rev.isNotNull(), F.lit(True)),
            ),
            "employees": (_band(F.col("employees")), _band(F.col("t_employees").cast("long"))),
        },
    )


def person_accuracy(
    people: DataFrame,
    person_xref: DataFrame,
    company_xref: DataFrame,
    truth: DataFrame,
    true_people: DataFrame,
) -> dict[str, float]:
    """Survivorship accuracy per person attribute (``company_id``: the golden company stands
    for the person's true company)."""
    m = majority_truth(person_xref, truth, "person_id")
    cm = majority_truth(company_xref, truth, "company_id").select(
        "company_id", F.col("true_id").alias("company_true_id")
    )
    t = true_people.select(
        F.col("person_id").alias("true_id"),
        *[F.col(c).alias(f"t_{c}") for c in true_people.columns if c != "person_id"],
    )
    j = people.join(m, "person_id").join(t, "true_id").join(cm, "company_id", "left")
    return _accuracy(
        j,
        {
            "first_name": (
                N.person_name_key(F.col("first_name")),
                N.person_name_key(F.col("t_first_name")),
            ),
            "last_name": (
                N.person_name_key(F.col("last_name")),
                N.person_name_key(F.col("t_last_name")),
            ),
            "email": (F.col("email"), N.email(F.col("t_email"))),
            "phone": (F.col("phone"), F.col("t_phone")),
            "title": (F.col("title"), F.col("t_title")),
            "country": (F.col("country"), F.col("t_country")),
            "company_id": (
                F.when(F.col("company_id").isNotNull(), F.col("company_true_id")),
                F.col("t_company_id"),
            ),
        },
    )


@dataclass(frozen=True)
class Quality:
    companies: PairScores
    people: PairScores
    company_accuracy: dict[str, float]
    person_accuracy: dict[str, float]


def measure(
    spark: SparkSession,
    landing: Path,
    dates: Sequence[str],
    companies: DataFrame,
    company_xref: DataFrame,
    people: DataFrame,
    person_xref: DataFrame,
) -> Quality:
    """Every quality figure against the truth of ``dates`` (entity values: the last date)."""
    truth = truth_records(spark, landing, dates).persist()
    company_truth = truth.where(F.col("entity").isin(*COMPANY_ENTITIES))
    person_truth = truth.where(F.col("entity").isin(*PERSON_ENTITIES))
    true_companies = _read_truth(spark, landing, [dates[-1]], "companies.csv")
    true_people = _read_truth(spark, landing, [dates[-1]], "people.csv")
    try:
        return Quality(
            companies=pairwise(company_xref, company_truth, "company_id"),
            people=pairwise(person_xref, person_truth, "person_id"),
            company_accuracy=company_accuracy(
                companies, company_xref, company_truth, true_companies
            ),
            person_accuracy=person_accuracy(people, person_xref, company_xref, truth, true_people),
        )
    finally:
        truth.unpersist()
