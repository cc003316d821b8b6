"""Column transforms that turn delivered strings into typed, comparable values.

Every transform is a pure ``Column -> Column`` built from Spark built-ins (no Python UDFs on the
hot path). Invalid input becomes null, never an exception that stops a job; the caller decides
whether a null needs a reason.
"""

from __future__ import annotations

from pyspark.sql import Column
from pyspark.sql import functions as F

_TRUE = ("true", "1", "yes", "y", "t")
_FALSE = ("false", "0", "no", "n", "f")


def clean_text(col: Column) -> Column:
    """Trim, collapse inner whitespace, empty -> null."""
    text = F.regexp_replace(F.trim(col), r"\s+", " ")
    return F.when(text != "", text)


def to_bool(col: Column) -> Column:
    v = F.lower(F.trim(col))
    return F.when(v.isin(*_TRUE), F.lit(True)).when(v.isin(*_FALSE), F.lit(False))


def to_double(col: Column) -> Column:
    """A plain number ('1200000', '1,200,000.50', ' 12.5 ') or null."""
    v = F.regexp_replace(F.trim(col), r"[,\s]", "")
    return F.when(v.rlike(r"^[-+]?\d+(\.\d+)?([eE][-+]?\d+)?$"), v.cast("double"))


def to_long(col: Column) -> Column:
    return F.round(to_double(col)).cast("long")


def money_to_usd(col: Column) -> Column:
    """Money text to a USD amount: '1200000', '$1.2M', '$850K', '2.5B', 'USD 3,000'."""
    v = F.upper(F.regexp_replace(F.trim(col), r"[\s,$]|USD", ""))
    number = F.regexp_extract(v, r"^([-+]?\d+(?:\.\d+)?)([KMB]?)$", 1)
    unit = F.regexp_extract(v, r"^([-+]?\d+(?:\.\d+)?)([KMB]?)$", 2)
    factor = (
        F.when(unit == "K", F.lit(1e3))
        .when(unit == "M", F.lit(1e6))
        .when(unit == "B", F.lit(1e9))
        .otherwise(F.lit(1.0))
    )
    return F.when(number != "", number.cast("double") * factor)


def employee_range_bounds(col: Column) -> tuple[Column, Column]:
    """'51-200' -> (51, 200); '10000+' -> (10000, null); '250' -> (250, 250)."""
    v = F.regexp_replace(F.trim(col), r"[,\s]", "")
    lo = F.regexp_extract(v, r"^(\d+)(?:-(\d+)|\+)?$", 1)
    hi = F.regexp_extract(v, r"^(\d+)(?:-(\d+)|\+)?$", 2)
    low = F.when(lo != "", lo.cast("long"))
    high = F.when(hi != "", hi.cast("long")).when((lo != "") & ~v.endswith("+"), lo.cast("long"))
    return low, high


def employees_estimate(col: Column) -> Column:
    """A single employee figure: exact counts as they are, ranges by their midpoint."""
    low, high = employee_range_bounds(col)
    return F.when(high.isNotNull(), ((low + high) / 2).cast("long")).otherwise(low)


def domain_from_url(col: Column) -> Column:
    """'https://www.Acme.com:443/about' -> 'acme.com'; emails' domains too; junk -> null."""
    v = F.lower(F.trim(col))
    v = F.regexp_replace(v, r"^[a-z][a-z0-9+.-]*://", "")
    v = F.regexp_replace(v, r"^[^@/]*@", "")
    v = F.regexp_replace(v, r"[/?#].*$", "")
    v = F.regexp_replace(v, r":\d+$", "")
    v = F.regexp_replace(v, r"^www\d?\.", "")
    v = F.regexp_replace(v, r"\.$", "")
    return F.when(v.rlike(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+$"), v)


EMAIL_PATTERN = r"^[a-z0-9._%+'-]+@[a-z0-9-]+(\.[a-z0-9-]+)*\.[a-z]{2,}$"


def email(col: Column) -> Column:
    """Lower-cased, trimmed email, or null when it is not a plausible address."""
    v = F.lower(F.trim(col))
    return F.when(v.rlike(EMAIL_PATTERN), v)


def iso_timestamp(col: Column) -> Column:
    """ISO-8601 text ('2026-11-20T10:00:00.000Z', '2026-11-20 10:00:00') to a UTC timestamp."""
    return F.try_to_timestamp(F.trim(col))


def epoch_ms_timestamp(col: Column) -> Column:
    v = F.trim(col)
    return F.when(v.rlike(r"^\d{1,16}$"), F.timestamp_millis(v.cast("long")))


def iso_date(col: Column) -> Column:
    """'2026-11-20' or an ISO timestamp to a date; anything else -> null."""
    return F.to_date(F.try_to_timestamp(F.trim(col)))


def day_first_date(col: Column) -> Column:
    """'31/12/2025' -> 2025-12-31."""
    return F.to_date(F.try_to_timestamp(F.trim(col), F.lit("dd/MM/yyyy")))


def name_key(col: Column) -> Column:
    """A crude comparison key for company names: lower case, letters and digits only."""
    return F.when(col.isNotNull(), F.regexp_replace(F.lower(col), r"[^a-z0-9]", ""))
