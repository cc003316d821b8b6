"""Named value formats a contract can ask for (``format: email``) and what each one means.

A named format is either a regular expression (Java syntax, as Spark's ``rlike`` and Great
Expectations on Spark use it; anchored, because ``rlike`` matches anywhere in the value) or a
closed set of values. Keeping the definitions here, rather than in each contract, means every
table checks emails or country codes the same way. The email pattern is the one Silver's
normaliser (:data:`crm_lakehouse.normalise.EMAIL_PATTERN`) accepts, made case-insensitive so raw
Bronze values can be measured too; it is repeated rather than imported because contracts are
parsed before Spark starts and must not import Spark transforms (a test keeps the two equal).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class NamedFormat(enum.StrEnum):
    EMAIL = "email"
    DOMAIN = "domain"
    ISO_COUNTRY = "iso_country"
    E164 = "e164"


@dataclass(frozen=True)
class FormatSpec:
    """How a format is checked: ``pattern`` (regex) or ``values`` (allowed set), not both."""

    description: str
    pattern: str | None = None
    values: tuple[str, ...] = ()


# ISO 3166-1 alpha-2: the 249 officially assigned codes.
ISO_COUNTRY_CODES: tuple[str, ...] = tuple(
    """
    AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR
    BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ
    EC EE EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW
    GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN KP KR KW KY
    KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV
    MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY
    QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG
    TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM
    ZW
    """.split()  # noqa: SIM905 (a grid of codes reads better than 249 quoted strings)
)

EMAIL_PATTERN = r"^[a-z0-9._%+'-]+@[a-z0-9-]+(\.[a-z0-9-]+)*\.[a-z]{2,}$"
DOMAIN_PATTERN = r"(?i)^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+$"
E164_PATTERN = r"^\+[1-9][0-9]{1,14}$"

FORMATS: dict[NamedFormat, FormatSpec] = {
    NamedFormat.EMAIL: FormatSpec(
        "a plausible email address (local@domain.tld, any case)",
        pattern="(?i)" + EMAIL_PATTERN,
    ),
    NamedFormat.DOMAIN: FormatSpec(
        "a bare internet domain name (acme.com: no scheme, www, path or port)",
        pattern=DOMAIN_PATTERN,
    ),
    NamedFormat.ISO_COUNTRY: FormatSpec(
        "an ISO 3166-1 alpha-2 country code in upper case (US, GB, DE)",
        values=ISO_COUNTRY_CODES,
    ),
    NamedFormat.E164: FormatSpec(
        "an E.164 phone number (+ then country code and number, at most 15 digits)",
        pattern=E164_PATTERN,
    ),
}
