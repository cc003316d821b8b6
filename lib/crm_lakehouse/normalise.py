"""Column transforms that turn delivered strings into typed, comparable values.

Every transform is a pure ``Column -> Column`` built from Spark built-ins (no Python UDFs on the
hot path; the one exception is :func:`phone_e164`, a vectorised pandas UDF over ``phonenumbers``). Invalid input becomes null, never an exception that stops a job; the caller decides
whether a null needs a reason.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping

import pandas as pd
from pyspark.sql import Column
from pyspark.sql import functions as F
from pyspark.sql.types import StringType

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


# --------------------------------------------------------------------------- entity resolution
# Comparison keys and codes used by matching and survivorship (ARCHITECTURE.md, "Entity
# resolution and survivorship"). All built-ins except the phone parser, which needs the
# ``phonenumbers`` metadata and is therefore the one vectorised pandas UDF of this module.

_ACCENTED = "àáâãäåāăąçćčďèéêëēėęěìíîïīįłñńňòóôõöøōőŕřśšşťùúûüūůűųýÿźżžß"
_PLAIN = "aaaaaaaaacccdeeeeeeeeiiiiiilnnnoooooooorrssstuuuuuuuuyyzzzs"

# Legal-form words stripped from the end of a company name for its comparison key. Dots are
# removed before matching ("S.A." -> "sa", "G.m.b.H." -> "gmbh"); multi-word forms come first.
LEGAL_SUFFIXES: tuple[str, ...] = (
    "public limited company",
    "limited liability company",
    "designated activity company",
    "proprietary limited",
    "sociedad anonima",
    "sociedad limitada",
    "gmbh u co kg",
    "gmbhcokg",
    "cokg",
    "aktiengesellschaft",
    "incorporated",
    "corporation",
    "company",
    "limited",
    "gmbh",
    "sarl",
    "corp",
    "inc",
    "llc",
    "ltd",
    "plc",
    "llp",
    "mbh",
    "pty",
    "dac",
    "sas",
    "srl",
    "spa",
    "s a",
    "co",
    "kg",
    "ag",
    "sa",
    "bv",
    "nv",
    "sl",
)
_SUFFIX_RE = r"(\s+(" + "|".join(s.replace(" ", r"\s+") for s in LEGAL_SUFFIXES) + r"))+$"


def strip_accents(col: Column) -> Column:
    """Lower-case and fold common Latin accents ('München' -> 'munchen') for comparisons."""
    return F.translate(F.lower(col), _ACCENTED, _PLAIN)


def company_name_words(col: Column) -> Column:
    """A company name as space-separated comparison words, legal form and a leading 'the'
    removed: 'The Oak-Star Learning, Inc.' -> 'oak star learning'.

    A name that is nothing but a legal form keeps its words (stripping would leave nothing).
    Null or blank input gives null.
    """
    v = strip_accents(col)
    v = F.regexp_replace(v, r"\.", "")
    v = F.regexp_replace(v, r"[^a-z0-9]+", " ")
    v = F.trim(F.regexp_replace(v, r"\s+", " "))
    v = F.regexp_replace(v, r"^the\s+", "")
    stripped = F.trim(F.regexp_replace(F.concat(F.lit(" "), v), _SUFFIX_RE, ""))
    out = F.when(stripped != "", stripped).otherwise(v)
    return F.when(out != "", out)


def company_name_key(col: Column) -> Column:
    """The compact comparison key of a company name (words joined): spacing and punctuation
    variants ('Oak-Star', 'OakStar', 'Oak & Star') give the same key."""
    return F.regexp_replace(company_name_words(col), " ", "")


def person_name_key(col: Column) -> Column:
    """A person's name part for comparison: accents folded, letters only ('Jürgen' -> 'jurgen')."""
    v = F.regexp_replace(strip_accents(col), r"[^a-z]", "")
    return F.when(v != "", v)


@functools.cache
def public_suffixes() -> tuple[frozenset[str], frozenset[str]]:
    """The ICANN public suffixes of two and of three labels, from tldextract's bundled snapshot
    (no network). One-label suffixes need no list: any last label counts as one, as the public
    suffix list's default rule says. Wildcard and exception rules are left out."""
    import tldextract

    extractor = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)
    rules = [s for s in extractor.tlds if not s.startswith(("*", "!"))]
    return (
        frozenset(s for s in rules if s.count(".") == 1),
        frozenset(s for s in rules if s.count(".") == 2),
    )


REGISTRABLE_DOMAIN_FUNCTION = "crm_registrable_domain"


def _sql_strings(values: frozenset[str]) -> str:
    from crm_lakehouse.delta._common import sql_string

    return ", ".join(sql_string(v) for v in sorted(values))


def registrable_domain_sql() -> str:
    """The ``CREATE TEMPORARY FUNCTION`` statement behind :func:`registrable_domain`."""
    two, three = public_suffixes()
    return (
        f"CREATE OR REPLACE TEMPORARY FUNCTION {REGISTRABLE_DOMAIN_FUNCTION}(host STRING) "
        "RETURNS STRING RETURN CASE "
        "WHEN host IS NULL THEN NULL "
        f"WHEN substring_index(host, '.', -3) IN ({_sql_strings(three)}) THEN "
        "CASE WHEN size(split(host, '[.]')) >= 4 THEN substring_index(host, '.', -4) END "
        f"WHEN substring_index(host, '.', -2) IN ({_sql_strings(two)}) THEN "
        "CASE WHEN size(split(host, '[.]')) >= 3 THEN substring_index(host, '.', -3) END "
        "ELSE substring_index(host, '.', -2) END"
    )


def _ensure_registrable_domain_function() -> None:
    """Register the SQL function in the active session once (a temporary function lives as
    long as its session)."""
    from pyspark.sql import SparkSession

    spark = SparkSession.getActiveSession()
    if spark is None:
        raise RuntimeError("registrable_domain needs an active SparkSession")
    if not spark.catalog.functionExists(REGISTRABLE_DOMAIN_FUNCTION):
        spark.sql(registrable_domain_sql())


def registrable_domain(col: Column) -> Column:
    """The registrable domain (public suffix + one label) of a URL, host or email:
    'https://shop.acme.co.uk/x' -> 'acme.co.uk', 'www.acme.com' -> 'acme.com'.

    A bare public suffix ('co.uk') or junk gives null. The suffix tests are ``IN`` lists of the
    public suffix list inside a SQL function registered once per session: Spark inlines it and
    turns the lists into hash sets (``INSET``), so no Python runs per row, and building the
    column costs one call instead of one JVM round trip per suffix (about 4 s per use).
    """
    _ensure_registrable_domain_function()
    return F.call_function(REGISTRABLE_DOMAIN_FUNCTION, domain_from_url(col))


def email_invalid_reason(col: Column) -> Column:
    """Why :func:`email` gave null for a non-blank value ('invalid_email'); null otherwise."""
    v = clean_text(col)
    return F.when(v.isNotNull() & email(col).isNull(), F.lit("invalid_email"))


def email_domain(col: Column) -> Column:
    """The registrable domain of a valid email ('Jane@Mail.Acme.co.uk' -> 'acme.co.uk')."""
    return registrable_domain(email(col))


# ISO 3166-1 alpha-2 -> (alpha-3, names and common variants). Covers every country the
# synthetic generator emits plus frequent trading partners; extend as sources need.
COUNTRIES: dict[str, tuple[str, tuple[str, ...]]] = {
    "US": ("USA", ("United States", "United States of America", "U.S.", "U.S.A.", "America")),
    "GB": (
        "GBR",
        (
            "United Kingdom",
            "UK",
            "U.K.",
            "Great Britain",
            "Britain",
            "England",
            "Scotland",
            "Wales",
        ),
    ),
    "DE": ("DEU", ("Germany", "Deutschland", "Federal Republic of Germany")),
    "FR": ("FRA", ("France", "Republique Francaise")),
    "CA": ("CAN", ("Canada",)),
    "NL": ("NLD", ("Netherlands", "The Netherlands", "Nederland", "Holland")),
    "ES": ("ESP", ("Spain", "España", "Espana", "Kingdom of Spain")),
    "AU": ("AUS", ("Australia",)),
    "IE": ("IRL", ("Ireland", "Republic of Ireland", "Eire", "Éire")),
    "IT": ("ITA", ("Italy", "Italia")),
    "CH": ("CHE", ("Switzerland", "Schweiz", "Suisse")),
    "AT": ("AUT", ("Austria", "Österreich")),
    "BE": ("BEL", ("Belgium", "Belgique", "België")),
    "SE": ("SWE", ("Sweden", "Sverige")),
    "NO": ("NOR", ("Norway", "Norge")),
    "DK": ("DNK", ("Denmark", "Danmark")),
    "FI": ("FIN", ("Finland", "Suomi")),
    "PT": ("PRT", ("Portugal",)),
    "PL": ("POL", ("Poland", "Polska")),
    "JP": ("JPN", ("Japan",)),
    "CN": ("CHN", ("China", "People's Republic of China")),
    "IN": ("IND", ("India",)),
    "BR": ("BRA", ("Brazil", "Brasil")),
    "MX": ("MEX", ("Mexico", "México")),
    "SG": ("SGP", ("Singapore",)),
    "NZ": ("NZL", ("New Zealand",)),
}


def _country_lookup_key(col: Column) -> Column:
    v = F.upper(F.translate(F.lower(col), _ACCENTED, _PLAIN))
    v = F.regexp_replace(v, r"\.", "")
    v = F.trim(F.regexp_replace(v, r"[^A-Z0-9]+", " "))
    return F.regexp_replace(v, r"^THE ", "")


def _country_key_text(text: str) -> str:
    import unicodedata

    folded = unicodedata.normalize("NFKD", text.lower()).encode("ascii", "ignore").decode()
    v = re.sub(r"[^A-Z0-9]+", " ", folded.upper().replace(".", "")).strip()
    return re.sub(r"^THE ", "", v)


@functools.cache
def _country_map() -> dict[str, str]:
    out: dict[str, str] = {}
    for iso2, (iso3, names) in COUNTRIES.items():
        for text in (iso2, iso3, *names):
            out[_country_key_text(text)] = iso2
    return out


def country_code(col: Column) -> Column:
    """ISO 3166-1 alpha-2 from a name, alpha-2 or alpha-3 code in any case ('U.S.A.', 'gbr',
    'España', 'The Netherlands'); unknown or blank -> null (see :func:`country_reason`)."""
    mapping = F.create_map(*[F.lit(x) for kv in sorted(_country_map().items()) for x in kv])
    return F.try_element_at(mapping, _country_lookup_key(col))


def country_reason(col: Column) -> Column:
    """'unknown_country' when a non-blank value did not map to a code; null otherwise."""
    return F.when(
        clean_text(col).isNotNull() & country_code(col).isNull(), F.lit("unknown_country")
    )


def _sector_of_naics(code: Column) -> Column:
    two = F.substring(code, 1, 2)
    return (
        F.when(two.isin("31", "32", "33"), F.lit("31-33"))
        .when(two.isin("44", "45"), F.lit("44-45"))
        .when(two.isin("48", "49"), F.lit("48-49"))
        .otherwise(two)
    )


NAICS_SECTORS = frozenset(
    {"11", "21", "22", "23", "31-33", "42", "44-45", "48-49", "51", "52", "53", "54", "55", "56"}
    | {"61", "62", "71", "72", "81", "92"}
)


def industry_key(col: Column) -> Column:
    """The lookup key of an industry label: lower case, letters and digits only."""
    v = F.regexp_replace(strip_accents(col), r"[^a-z0-9]", "")
    return F.when(v != "", v)


def industry_code(col: Column, labels: Mapping[str, str | None]) -> Column:
    """An industry in one code set, the NAICS 2022 sector ('51', '31-33', ...).

    NAICS codes of 2 to 6 digits map by their first two digits; text labels (CRM picklists,
    HubSpot enums, provider free text) through ``labels`` keyed by :func:`industry_key`. A label
    mapped to None is known but ambiguous ('Other') and gives null, as does anything unknown.
    """
    v = F.trim(col)
    known = {k: s for k, s in labels.items() if s is not None}
    mapping = (
        F.create_map(*[F.lit(x) for kv in sorted(known.items()) for x in kv])
        if known
        else F.create_map().cast("map<string,string>")
    )
    naics = _sector_of_naics(v)
    from_naics = F.when(v.rlike(r"^\d{2,6}$") & naics.isin(*sorted(NAICS_SECTORS)), naics)
    return F.coalesce(from_naics, F.try_element_at(mapping, industry_key(v)))


def industry_reason(col: Column, labels: Mapping[str, str | None]) -> Column:
    """'ambiguous_industry' for labels known to span sectors, 'unknown_industry' for others
    that did not map; null when mapped or blank."""
    ambiguous = sorted(k for k, s in labels.items() if s is None)
    v = clean_text(col)
    return (
        F.when(v.isNull() | industry_code(col, labels).isNotNull(), F.lit(None).cast("string"))
        .when(
            industry_key(col).isin(*ambiguous) if ambiguous else F.lit(False), "ambiguous_industry"
        )
        .otherwise(F.lit("unknown_industry"))
    )


def _parse_e164(text: str | None, region: str | None) -> str | None:
    import phonenumbers

    if text is None or not text.strip():
        return None
    for reg in dict.fromkeys([region or None, "US"]):
        try:
            parsed = phonenumbers.parse(text, reg)
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_valid_number(parsed):
            return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    return None


@F.pandas_udf(StringType())  # type: ignore[call-overload]
def _e164_udf(phone: pd.Series, region: pd.Series) -> pd.Series:
    return pd.Series(
        [_parse_e164(p, r) for p, r in zip(phone.tolist(), region.tolist(), strict=True)],
        dtype=object,
    )


def phone_e164(phone: Column, country_iso2: Column | None = None) -> Column:
    """A phone number in E.164 ('+14155550123'), parsed in the record's country (ISO alpha-2),
    falling back to North America; anything ``phonenumbers`` does not accept as valid -> null.

    The one Python UDF of the normaliser (vectorised, Arrow batches): the numbering-plan
    metadata lives in ``phonenumbers``. Blank input short-circuits to null without the UDF.
    """
    region = country_iso2 if country_iso2 is not None else F.lit(None).cast("string")
    text = clean_text(phone)
    return F.when(text.isNotNull(), _e164_udf(text, region))


def phone_reason(phone: Column, e164: Column) -> Column:
    """'invalid_phone' when a non-blank phone did not give an E.164 number; null otherwise."""
    return F.when(clean_text(phone).isNotNull() & e164.isNull(), F.lit("invalid_phone"))
