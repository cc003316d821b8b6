"""Opportunity facts shared by ``gold.account_360`` and ``gold.pipeline_summary``.

One row per live (not deleted) opportunity with exact decimal amounts in the deal's currency
and in USD at the configured reporting rate, the probability-weighted amount, and the flags the
aggregates count. Keeping this in one place is what makes the two tables reconcile.
"""

from __future__ import annotations

import datetime as dt

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from crm_lakehouse.errors import ConfigError
from crm_lakehouse.gold.rules import GoldRules, usd_rate
from crm_lakehouse.gold.table import money

UNKNOWN_STAGE = "(unknown)"
NO_CLOSE_MONTH = "(none)"
DEFAULT_CURRENCY = "USD"


def currency(col: Column | str = "currency") -> Column:
    """The deal currency; USD when the opportunity has none (as Salesforce single-currency
    orgs deliver it)."""
    c = F.col(col) if isinstance(col, str) else col
    return F.coalesce(c, F.lit(DEFAULT_CURRENCY))


def check_currencies(opportunities: DataFrame, rules: GoldRules) -> None:
    """Raise :class:`ConfigError` naming every currency on a live opportunity that has no
    reporting rate: USD figures without it would silently leave deals out."""
    seen = {
        r["c"]
        for r in opportunities.where(~F.col("is_deleted"))
        .select(currency().alias("c"))
        .distinct()
        .collect()
    }
    missing = sorted(seen - set(rules.currency_rates_usd))
    if missing:
        raise ConfigError(
            f"gold rules (gold.yaml): currency_rates_usd has no rate for {missing} "
            "(found on live opportunities in silver.opportunities); add the reporting rates"
        )


def window_start(date: str, months: int) -> dt.date:
    """The day ``months`` months before ``date`` (clamped to the month's end): won deals closed
    after it, up to and including ``date``, are in the trailing window."""
    d = dt.date.fromisoformat(date)
    month = d.month - 1 - months
    year = d.year + month // 12
    month = month % 12 + 1
    day = min(d.day, _days_in_month(year, month))
    return dt.date(year, month, day)


def _days_in_month(year: int, month: int) -> int:
    nxt = dt.date(year + month // 12, month % 12 + 1, 1)
    return (nxt - dt.timedelta(days=1)).day


def in_won_window(date: str, rules: GoldRules) -> Column:
    """True for won deals closed in (date - N months, date]."""
    start = window_start(date, rules.won_revenue_window_months)
    end = dt.date.fromisoformat(date)
    return (
        F.col("is_won") & (F.col("close_date") > F.lit(start)) & (F.col("close_date") <= F.lit(end))
    )


def opportunity_facts(opportunities: DataFrame, rules: GoldRules, date: str) -> DataFrame:
    """Live opportunities as facts: keys, flags and exact amounts (decimal(38,6)).

    ``amount`` is 0 when missing; ``weighted`` is amount x probability / 100 (probability 0 when
    missing); ``*_usd`` use the configured reporting rate of the deal currency.
    """
    live = opportunities.where(~F.col("is_deleted"))
    amount = F.coalesce(money("amount"), F.lit(0).cast("decimal(20,4)"))
    probability = F.coalesce(money("probability"), F.lit(0).cast("decimal(20,4)"))
    rate = usd_rate(rules, currency())
    return live.select(
        "source_system",
        "source_id",
        "company_id",
        F.coalesce(F.col("stage"), F.lit(UNKNOWN_STAGE)).alias("stage"),
        F.coalesce(F.date_format("close_date", "yyyy-MM"), F.lit(NO_CLOSE_MONTH)).alias(
            "close_month"
        ),
        currency().alias("currency"),
        F.coalesce(F.col("is_closed"), F.lit(False)).alias("is_closed"),
        F.coalesce(F.col("is_won"), F.lit(False)).alias("is_won"),
        F.coalesce(in_won_window(date, rules), F.lit(False)).alias("won_in_window"),
        "modified_at",
        amount.alias("amount"),
        (amount * probability / 100).cast("decimal(38,6)").alias("weighted"),
        (amount * rate).cast("decimal(38,6)").alias("amount_usd"),
        (amount * probability / 100 * rate).cast("decimal(38,6)").alias("weighted_usd"),
    )
