"""Rendering records the way each source delivers them, with per-record faults.

A rendered record is a mapping ``column -> value`` in the source's own formats (Salesforce ISO
timestamps and picklists, HubSpot epoch milliseconds and enums, provider units). Values come
from the truth snapshot the record's version shows, so a record that was not updated after a
change in the world keeps showing the old value, as real CRMs do.

Two kinds of randomness are kept apart:

* *stored* faults and formatting choices (name variants, typos, missing fields, the phone
  format a rep typed) are what the source system holds for that record. They are drawn from a
  stream keyed by the record alone, using the fault rates of the delivery that first delivered
  it, so every later delivery of the record shows the same stored values.
* *provider versions* (conflicting or stale values, ``as_of``) are drawn per delivered version.

Delivery faults (malformed lines, invalid UTF-8) are applied by :mod:`.writer`.
"""

from __future__ import annotations

import datetime as dt
import functools
import random
from collections import Counter
from dataclasses import dataclass, field

from crm_lakehouse.config import FaultRates
from crm_lakehouse.sources import HUBSPOT, PROVIDER_A, PROVIDER_B, PROVIDER_C, SALESFORCE
from crm_lakehouse.synthetic import faults, vocab
from crm_lakehouse.synthetic.rand import Weighted, mix, rng, scramble, sf_id, unit
from crm_lakehouse.synthetic.world import (
    DAY_MS,
    HOUR_MS,
    T_EXTRA,
    T_PROVIDER,
    T_RENDER,
    CompanyState,
    Kind,
    Rec,
    Tree,
    WorldParams,
    employee_bucket,
    opportunity_id,
    round3,
)

_EPOCH_ORDINAL = dt.date(1970, 1, 1).toordinal()
EXTRA_ACCOUNT_COLUMN = "AccountSource"
EXTRA_HUBSPOT_PROPERTY = "hs_lead_status"


@functools.lru_cache(maxsize=8192)
def iso_date(day: int) -> str:
    return dt.date.fromordinal(_EPOCH_ORDINAL + day).isoformat()


@functools.lru_cache(maxsize=8192)
def dmy_date(day: int) -> str:
    d = dt.date.fromordinal(_EPOCH_ORDINAL + day)
    return f"{d.day:02d}/{d.month:02d}/{d.year:04d}"


def epoch_day(date: str) -> int:
    return dt.date.fromisoformat(date).toordinal() - _EPOCH_ORDINAL


def iso_ms(ms: int) -> str:
    """Salesforce export timestamp: ``2024-03-05T14:22:10.000Z``."""
    day, rem = divmod(ms, DAY_MS)
    h, rem = divmod(rem, HOUR_MS)
    m, rem = divmod(rem, 60_000)
    s, milli = divmod(rem, 1000)
    return f"{iso_date(day)}T{h:02d}:{m:02d}:{s:02d}.{milli:03d}Z"


@dataclass(frozen=True)
class KindSpec:
    """Which fields of a kind take which fault, by column (or property) name."""

    kind: Kind
    columns: tuple[str, ...]  # CSV columns, or JSON value keys (HubSpot: the properties)
    name_fields: tuple[str, ...] = ()
    domain_fields: tuple[str, ...] = ()
    email_fields: tuple[str, ...] = ()
    typo_fields: tuple[str, ...] = ()
    missing_fields: tuple[str, ...] = ()
    text_fields: tuple[str, ...] = ()  # candidates for invalid UTF-8 bytes


def _spec(kind: Kind, columns: tuple[str, ...], **kw: str) -> KindSpec:
    return KindSpec(kind, columns, **{k: tuple(v.split()) for k, v in kw.items()})


SPECS: dict[Kind, KindSpec] = {
    Kind.ACCOUNT: _spec(
        Kind.ACCOUNT,
        SALESFORCE.entity("accounts").columns,
        name_fields="Name",
        domain_fields="Website",
        typo_fields="Name BillingStreet BillingCity",
        missing_fields="Phone BillingStreet BillingCity BillingState BillingPostalCode "
        "BillingCountry Industry AnnualRevenue NumberOfEmployees",
        text_fields="Name BillingStreet BillingCity",
    ),
    Kind.CONTACT: _spec(
        Kind.CONTACT,
        SALESFORCE.entity("contacts").columns,
        email_fields="Email",
        typo_fields="FirstName LastName Title",
        missing_fields="FirstName Email Phone Title MailingCountry",
        text_fields="FirstName LastName Title",
    ),
    Kind.LEAD: _spec(
        Kind.LEAD,
        SALESFORCE.entity("leads").columns,
        name_fields="Company",
        domain_fields="Website",
        email_fields="Email",
        typo_fields="FirstName LastName Company",
        missing_fields="Email Phone Company Title Country LeadSource",
        text_fields="FirstName LastName Company Title",
    ),
    Kind.OPPORTUNITY: _spec(
        Kind.OPPORTUNITY,
        SALESFORCE.entity("opportunities").columns,
        typo_fields="Name",
        missing_fields="Amount Type LeadSource CloseDate",
        text_fields="Name",
    ),
    Kind.HS_COMPANY: _spec(
        Kind.HS_COMPANY,
        HUBSPOT.entity("companies").nested,
        name_fields="name",
        domain_fields="domain",
        typo_fields="name address city",
        missing_fields="phone address city state zip country industry annualrevenue numberofemployees",
        text_fields="name address city",
    ),
    Kind.HS_CONTACT: _spec(
        Kind.HS_CONTACT,
        HUBSPOT.entity("contacts").nested,
        name_fields="company",
        email_fields="email",
        typo_fields="firstname lastname company",
        missing_fields="firstname email phone jobtitle company country",
        text_fields="firstname lastname jobtitle company",
    ),
    Kind.PROVIDER_A: _spec(
        Kind.PROVIDER_A,
        PROVIDER_A.entity("firmographics").columns,
        name_fields="company_name",
        domain_fields="domain",
        typo_fields="company_name",
        missing_fields="domain country revenue_usd employees naics",
        text_fields="company_name",
    ),
    Kind.PROVIDER_B: _spec(
        Kind.PROVIDER_B,
        PROVIDER_B.entity("firmographics").columns,
        name_fields="name",
        domain_fields="website",
        typo_fields="name",
        missing_fields="website hq_country revenue_k employee_range industry",
        text_fields="name",
    ),
    Kind.PROVIDER_C: _spec(
        Kind.PROVIDER_C,
        PROVIDER_C.entity("firmographics").columns,
        name_fields="org_name",
        domain_fields="url",
        typo_fields="org_name",
        missing_fields="url country_code revenue headcount sector",
        text_fields="org_name",
    ),
}

_COUNTRY_SPELLING = {c.iso2: Weighted(c.names) for c in vocab.COUNTRIES}
_AREAS = {
    c.iso2: tuple(
        sorted({x.area for x in c.cities} | set(c.mobile_prefixes), key=lambda a: (-len(a), a))
    )
    for c in vocab.COUNTRIES
}
_HS_RANGES = tuple(f"{lo}-{hi}" if hi else f"{lo}+" for lo, hi in vocab.EMPLOYEE_BUCKETS)
_B_RANGES = tuple(f"{lo:,}-{hi:,}" if hi else f"{lo:,}+" for lo, hi in vocab.EMPLOYEE_BUCKETS)


def _groups(iso2: str, nsn: str) -> list[str]:
    """Digit groups of a national significant number as that country writes them."""
    if iso2 in ("US", "CA", "ES"):
        return [nsn[:3], nsn[3:6], nsn[6:]]
    if iso2 == "FR":
        return [nsn[0]] + [nsn[i : i + 2] for i in range(1, len(nsn), 2)]
    area = next((a for a in _AREAS[iso2] if nsn.startswith(a)), nsn[:2])
    rest = nsn[len(area) :]
    if len(rest) == 8:
        return [area, rest[:4], rest[4:]]
    if len(rest) >= 6:
        return [area, rest[:3], rest[3:]]
    return [area, rest]


def format_phone(e164: str, country: vocab.Country, u: float) -> str:
    """A phone number in one of the formats people type in that country (``u`` picks one)."""
    cc = country.calling_code
    nsn = e164[len(cc) + 1 :]
    g = _groups(country.iso2, nsn)
    if cc == "1":
        a, b, c = g
        nanp = (
            f"({a}) {b}-{c}",
            f"{a}-{b}-{c}",
            f"{a}.{b}.{c}",
            f"+1 {a} {b} {c}",
            f"+1-{a}-{b}-{c}",
            f"{a}{b}{c}",
            e164,
            f"1-{a}-{b}-{c}",
        )
        return nanp[int(u * len(nanp))]
    t = country.trunk
    rest = " ".join(g[1:])
    if country.iso2 in ("AU", "IE"):
        national = f"({t}{g[0]}) {rest}" if len(g[0]) < 3 else f"{t}{g[0]} {rest}"
    else:
        national = f"{t}{g[0]} {rest}"
    styles = (
        f"+{cc} {' '.join(g)}",
        national,
        national,
        f"+{cc} ({t}){g[0]} {rest}" if t else f"+{cc} {' '.join(g)}",
        e164,
        f"00{cc} {' '.join(g)}",
        f"{t}{g[0]}/{''.join(g[1:])}" if country.iso2 == "DE" else f"{t}{g[0]}-{''.join(g[1:])}",
    )
    return styles[int(u * len(styles))]


def _state(tree: Tree, u: float) -> str:
    city = tree.city
    iso = tree.country.iso2
    if iso in ("US", "CA", "AU"):
        return city.state_code if u < 0.8 else city.state_name
    if iso in ("GB", "IE"):
        return "" if u < 0.7 else city.state_name
    return city.state_name if u < 0.5 else ""


def _city(tree: Tree, u: float) -> str:
    return tree.city.exonym if tree.city.exonym and u < 0.3 else tree.city.name


def money_text(revenue: int) -> str:
    """Provider C's revenue text: "$1.2M", "$850K", "$3.4B"."""
    for unit_value, sym in ((1_000_000_000, "B"), (1_000_000, "M"), (1_000, "K")):
        if revenue >= unit_value:
            return f"${revenue / unit_value:.3g}{sym}"
    return f"${revenue}"


@dataclass(slots=True)
class Row:
    """One rendered record, before serialisation."""

    kind: Kind
    source_id: str
    values: dict[str, str | None]
    top: dict[str, object] | None  # HubSpot top-level fields
    tags: list[str]


@dataclass
class Tally:
    """Counts of injected faults and of the records that could have taken each fault."""

    counts: Counter[str] = field(default_factory=Counter)
    eligible: Counter[str] = field(default_factory=Counter)
    baseline_missing: Counter[str] = field(default_factory=Counter)


class Renderer:
    """Renders records of one delivery. Holds only per-delivery constants."""

    def __init__(
        self, params: WorldParams, idx: int, rates: tuple[FaultRates, ...], tally: Tally
    ) -> None:
        self.p = params
        self.idx = idx
        self.rates = rates
        self.tally = tally
        self.seed = params.seed
        self.pod = params.pod
        # one salt per id sequence, so e.g. an account and a contact of the same company do
        # not share the tail of their ids
        self.sf_salts = {
            p: params.salt(100 + i) for i, p in enumerate(("001", "003", "00Q", "006", "005"))
        }
        self.hs_company_salt = params.salt(3) % 9_000_000_000
        self.hs_contact_salt = params.salt(7) % (9 * 10**11)
        self.pa_salt = params.salt(4) % 1_000_000_000
        self.pb_salt = params.salt(5) % (16**12)
        self.pc_salt = params.salt(6) % 900_000_000
        self.extended = idx > 0  # the schema change ships with the first delta and stays
        self._owners: dict[int, str] = {}
        self._blocks: dict[int, tuple[list[float], int, list[float]]] = {}
        self._ids: dict[tuple[str, int], str] = {}
        self.day0 = params.timeline.days[0]

    def begin(self, tree: Tree) -> None:
        """Prepare for rendering records of ``tree``.

        Stored faults and formatting choices come from one stream per company, consumed in a
        fixed block of draws per record in record order. Records are only ever appended to a
        tree, so a record's block is the same in every delivery; one stream per company is
        much cheaper than one seeded generator per record.
        """
        rr = rng(self.seed, T_RENDER, tree.index)
        rand, bits = rr.random, rr.getrandbits
        self._blocks = {
            id(rec): ([rand() for _ in range(5)], bits(64), [rand() for _ in range(8)])
            for rec in tree.records
        }
        self._ids = {}

    # ids -------------------------------------------------------------------------------
    def sf(self, prefix: str, c: int, slot: int) -> str:
        key = (prefix, slot)
        found = self._ids.get(key)
        if found is None:
            found = self._ids[key] = sf_id(
                prefix, self.pod, (c << 16) | slot, self.sf_salts[prefix]
            )
        return found

    def owner(self, n: int) -> str:
        found = self._owners.get(n)
        if found is None:
            found = self._owners[n] = sf_id("005", self.pod, n, self.sf_salts["005"])
        return found

    def hs_company_id(self, c: int, slot: int) -> str:
        return str(
            1_000_000_000
            + scramble(c * 4 + slot, 9_000_000_000, 7_777_777_777, self.hs_company_salt)
        )

    def hs_contact_id(self, c: int, slot: int) -> str:
        return str(
            10**11 + scramble((c << 16) | slot, 9 * 10**11, 6_364_136_227, self.hs_contact_salt)
        )

    def source_id(self, tree: Tree, rec: Rec) -> str:
        c, s = tree.index, rec.slot
        k = rec.kind
        if k == Kind.ACCOUNT:
            return self.sf("001", c, s)
        if k == Kind.CONTACT:
            return self.sf("003", c, s)
        if k == Kind.LEAD:
            return self.sf("00Q", c, s)
        if k == Kind.OPPORTUNITY:
            return self.sf("006", c, s)
        if k == Kind.HS_COMPANY:
            return self.hs_company_id(c, s)
        if k == Kind.HS_CONTACT:
            return self.hs_contact_id(c, s)
        if k == Kind.PROVIDER_A:
            return f"A{scramble(c, 10**9, 777_777_773, self.pa_salt):09d}"
        if k == Kind.PROVIDER_B:
            return f"{scramble(c, 16**12, 0x9E3779B97F4B, self.pb_salt):012x}"
        return str(100_000_000 + scramble(c, 900_000_000, 777_777_779, self.pc_salt))

    def true_id(self, tree: Tree, rec: Rec) -> str:
        if rec.person >= 0:
            return tree.people[rec.person].person_id
        if rec.kind == Kind.OPPORTUNITY:
            return opportunity_id(tree.index, rec.slot)
        return tree.company_id

    # rendering ---------------------------------------------------------------------------
    def render(self, tree: Tree, rec: Rec, *, late_lmd: int | None = None) -> Row:
        """The record as the source delivers it now (``late_lmd``: an older version arriving
        late, shown with that timestamp and one older value)."""
        kind = rec.kind
        u_fault, detail_seed, f = self._blocks[id(rec)]
        cs = tree.state(rec.state_at)
        sid = self.source_id(tree, rec)
        lmd = rec.lmd_ms if late_lmd is None else late_lmd
        tags: list[str] = []
        top: dict[str, object] | None = None
        if kind == Kind.ACCOUNT:
            values = self._account(tree, rec, cs, f, sid, lmd)
        elif kind == Kind.CONTACT:
            values = self._contact(tree, rec, f, sid, lmd)
        elif kind == Kind.LEAD:
            values = self._lead(tree, rec, cs, f, sid, lmd)
        elif kind == Kind.OPPORTUNITY:
            values = self._opportunity(tree, rec, sid, lmd)
        elif kind == Kind.HS_COMPANY:
            values = self._hs_company(tree, rec, cs, f, lmd)
            top = self._hs_top(sid, rec, lmd)
        elif kind == Kind.HS_CONTACT:
            values = self._hs_contact(tree, rec, f, lmd)
            top = self._hs_top(sid, rec, lmd)
        else:
            values = self._provider(tree, rec, cs, sid, tags)
        if late_lmd is not None:
            self._older_value(kind, values, random.Random(mix(detail_seed, self.idx)))
            tags.append("late_update")
        self._stored_faults(tree, rec, values, u_fault, detail_seed, tags)
        return Row(kind, sid, values, top, tags)

    def _hs_top(self, sid: str, rec: Rec, lmd: int) -> dict[str, object]:
        return {"id": sid, "createdAt": rec.created_ms, "updatedAt": lmd, "archived": rec.deleted}

    def _baseline_missing(self, key: str) -> None:
        self.tally.baseline_missing[key] += 1

    def _account(
        self, tree: Tree, rec: Rec, cs: CompanyState, f: list[float], sid: str, lmd: int
    ) -> dict[str, str | None]:
        website = cs.domain if cs.domain and f[0] >= 0.3 else None
        if website is None:
            self._baseline_missing("salesforce.accounts.Website")
        values: dict[str, str | None] = {
            "Id": sid,
            "Name": tree.name,
            "Website": website,
            "Phone": format_phone(cs.phone, tree.country, f[1]),
            "BillingStreet": cs.street,
            "BillingCity": _city(tree, f[2]),
            "BillingState": _state(tree, f[3]),
            "BillingPostalCode": tree.postal_code,
            "BillingCountry": self._country_text(tree.country.iso2, f[4]),
            "Industry": tree.industry.salesforce,
            "AnnualRevenue": str(cs.revenue_usd),
            "NumberOfEmployees": str(cs.employees),
            "OwnerId": self.owner(rec.owner),
            "IsDeleted": "true" if rec.deleted else "false",
            "CreatedDate": iso_ms(rec.created_ms),
            "LastModifiedDate": iso_ms(lmd),
        }
        if self.extended:
            u = unit(self.seed, T_EXTRA, int(rec.kind), tree.index, rec.slot)
            values[EXTRA_ACCOUNT_COLUMN] = (
                vocab.ACCOUNT_SOURCES[int(u * 5 / 0.8)] if u < 0.8 else ""
            )
        return values

    def _country_text(self, iso2: str, u: float) -> str:
        return _COUNTRY_SPELLING[iso2].pick_u(u)

    def _contact(
        self, tree: Tree, rec: Rec, f: list[float], sid: str, lmd: int
    ) -> dict[str, str | None]:
        person = tree.people[rec.person]
        ps = person.state(rec.state_at)
        phone = None if f[0] < 0.2 else format_phone(ps.phone, tree.country, f[1])
        if phone is None:
            self._baseline_missing("salesforce.contacts.Phone")
        return {
            "Id": sid,
            "AccountId": self.sf("001", tree.index, max(rec.link, 0)),
            "FirstName": person.first_name,
            "LastName": person.last_name,
            "Email": person.email,
            "Phone": phone,
            "Title": ps.title,
            "MailingCountry": self._country_text(person.country, f[2]),
            "OwnerId": self.owner(rec.owner),
            "IsDeleted": "true" if rec.deleted else "false",
            "CreatedDate": iso_ms(rec.created_ms),
            "LastModifiedDate": iso_ms(lmd),
        }

    def _lead(
        self, tree: Tree, rec: Rec, cs: CompanyState, f: list[float], sid: str, lmd: int
    ) -> dict[str, str | None]:
        person = tree.people[rec.person]
        ps = person.state(rec.state_at)
        phone = None if f[0] < 0.3 else format_phone(ps.phone, tree.country, f[1])
        website = cs.domain if cs.domain and f[3] >= 0.6 else None
        if phone is None:
            self._baseline_missing("salesforce.leads.Phone")
        if website is None:
            self._baseline_missing("salesforce.leads.Website")
        converted = rec.converted
        return {
            "Id": sid,
            "FirstName": person.first_name,
            "LastName": person.last_name,
            "Email": person.email,
            "Phone": phone,
            "Company": tree.name,
            "Website": website,
            "Title": ps.title,
            "LeadSource": rec.lead_source,
            "Status": rec.lead_status,
            "IsConverted": "true" if converted else "false",
            "ConvertedAccountId": self.sf("001", tree.index, max(rec.link, 0)) if converted else "",
            "ConvertedContactId": self.sf("003", tree.index, rec.slot) if converted else "",
            "Country": self._country_text(person.country, f[2]),
            "IsDeleted": "true" if rec.deleted else "false",
            "CreatedDate": iso_ms(rec.created_ms),
            "LastModifiedDate": iso_ms(lmd),
        }

    def _opportunity(self, tree: Tree, rec: Rec, sid: str, lmd: int) -> dict[str, str | None]:
        stage, prob, closed, won = vocab.STAGES[rec.stage]
        year = iso_date(rec.created_ms // DAY_MS)[:4]  # named when created; stable afterwards
        return {
            "Id": sid,
            "AccountId": self.sf("001", tree.index, max(rec.link, 0)),
            "Name": f"{tree.base_name} - {rec.product} {year}",
            "StageName": stage,
            "Amount": str(rec.amount),
            "CurrencyIsoCode": rec.currency,
            "Probability": str(prob),
            "CloseDate": iso_date(rec.close_day),
            "IsClosed": "true" if closed else "false",
            "IsWon": "true" if won else "false",
            "Type": rec.opp_type,
            "LeadSource": rec.lead_source,
            "OwnerId": self.owner(rec.owner),
            "IsDeleted": "true" if rec.deleted else "false",
            "CreatedDate": iso_ms(rec.created_ms),
            "LastModifiedDate": iso_ms(lmd),
        }

    def _hs_company(
        self, tree: Tree, rec: Rec, cs: CompanyState, f: list[float], lmd: int
    ) -> dict[str, str | None]:
        domain = cs.domain if cs.domain and f[0] >= 0.05 else None
        if domain is None:
            self._baseline_missing("hubspot.companies.domain")
        values: dict[str, str | None] = {
            "name": tree.name,
            "domain": domain,
            "phone": format_phone(cs.phone, tree.country, f[1]),
            "address": cs.street,
            "city": _city(tree, f[2]),
            "state": _state(tree, f[3]) or None,
            "zip": tree.postal_code,
            "country": tree.country.hubspot_name
            if f[4] < 0.8
            else self._country_text(tree.country.iso2, f[5]),
            "industry": tree.industry.hubspot,
            "annualrevenue": str(cs.revenue_usd),
            "numberofemployees": _HS_RANGES[employee_bucket(cs.employees)],
            "hs_lastmodifieddate": str(lmd),
        }
        if self.extended:
            u = unit(self.seed, T_EXTRA, int(rec.kind), tree.index, rec.slot)
            values[EXTRA_HUBSPOT_PROPERTY] = (
                vocab.HUBSPOT_LEAD_STATUS[int(u * len(vocab.HUBSPOT_LEAD_STATUS) / 0.7)]
                if u < 0.7
                else None
            )
        return values

    def _hs_contact(self, tree: Tree, rec: Rec, f: list[float], lmd: int) -> dict[str, str | None]:
        person = tree.people[rec.person]
        ps = person.state(rec.state_at)
        phone = None if f[0] < 0.4 else format_phone(ps.phone, tree.country, f[1])
        if phone is None:
            self._baseline_missing("hubspot.contacts.phone")
        return {
            "firstname": person.first_name,
            "lastname": person.last_name,
            "email": person.email,
            "phone": phone,
            "jobtitle": ps.title,
            "company": tree.name,
            "associatedcompanyid": self.hs_company_id(tree.index, rec.link)
            if rec.link >= 0
            else None,
            "lifecyclestage": vocab.HUBSPOT_LIFECYCLE[rec.lifecycle],
            "country": vocab.COUNTRY_BY_ISO2[person.country].hubspot_name,
            "lastmodifieddate": str(lmd),
        }

    def _provider(
        self, tree: Tree, rec: Rec, cs: CompanyState, sid: str, tags: list[str]
    ) -> dict[str, str | None]:
        """A provider row for the version delivered at ``rec.state_at``: fresh values by default,
        or stale (an old ``as_of`` with the values of that time), or conflicting with the truth
        (revenue, headcount and/or industry off), at the rates of that delivery."""
        kind = rec.kind
        rv = rng(self.seed, T_PROVIDER, int(kind), tree.index, rec.version, rec.state_at)
        rates = self.rates[rec.state_at]
        u_conf, u_stale, u_age, u_conf_what = rv.random(), rv.random(), rv.random(), rv.random()
        original = rec.version == 0 and rec.born == 0
        self.tally.eligible["provider_conflict"] += 1
        if original:
            self.tally.eligible["stale_provider"] += 1
        stale = original and u_stale < rates.stale_provider
        conflict = u_conf < rates.provider_conflict
        revenue, employees, industry, naics = (
            cs.revenue_usd,
            cs.employees,
            tree.industry,
            tree.naics,
        )
        if not original:
            as_of = rec.as_of_day
        elif stale:
            as_of = self.day0 - 730 - int(u_age * 1100)
        elif kind == Kind.PROVIDER_A:
            as_of = self.day0 - 1 - int(u_age * 90)
        elif kind == Kind.PROVIDER_B:  # monthly snapshots: the first day of a recent month
            d = dt.date.fromordinal(_EPOCH_ORDINAL + self.day0 - 30 - int(u_age * 210))
            as_of = d.replace(day=1).toordinal() - _EPOCH_ORDINAL
        else:
            as_of = self.day0 - 20 - int(u_age * 380)
        if stale:
            years = (self.day0 - as_of) / 365
            revenue = round3(max(100_000.0, revenue / 1.15**years))
            employees = max(1, int(employees / 1.08**years))
            tags.append("stale_provider")
            self.tally.counts["stale_provider"] += 1
        if conflict:
            what = int(u_conf_what * 5)  # 0 revenue, 1 employees, 2 industry, 3 rev+emp, 4 all
            if what in (0, 3, 4):
                factor = rv.uniform(0.3, 0.65) if rv.random() < 0.5 else rv.uniform(1.6, 3.5)
                revenue = round3(max(100_000.0, revenue * factor))
            if what in (1, 3, 4):
                factor = rv.uniform(0.25, 0.45) if rv.random() < 0.5 else rv.uniform(2.5, 4.0)
                employees = max(1, int(employees * factor))
                bucket = employee_bucket(cs.employees)
                if employee_bucket(employees) == bucket:  # make the disagreement visible in ranges
                    last = len(vocab.EMPLOYEE_BUCKETS) - 1
                    employees = (
                        cs.employees * 12 if bucket < last else min(cs.employees // 12, 9_000)
                    )
            if what in (2, 4):
                others = [i for i in vocab.INDUSTRIES if i.sector != tree.industry.sector]
                industry = others[rv.randrange(len(others))]
                naics = industry.naics[rv.randrange(len(industry.naics))]
            tags.append("provider_conflict")
            self.tally.counts["provider_conflict"] += 1
        quality = rv.uniform(0.35, 0.8) if conflict else rv.uniform(0.7, 0.99)
        domain = cs.domain
        if kind == Kind.PROVIDER_A:
            return {
                "provider_id": sid,
                "company_name": tree.name,
                "domain": domain,
                "country": tree.country.iso2,
                "revenue_usd": str(revenue),
                "employees": str(employees),
                "naics": naics,
                "as_of": iso_date(as_of),
                "confidence": f"{quality:.2f}",
            }
        if kind == Kind.PROVIDER_B:
            return {
                "id": sid,
                "name": tree.name,
                "website": f"www.{domain}" if domain else None,
                "hq_country": tree.country.provider_b_name,
                "revenue_k": str(revenue // 1000),
                "employee_range": _B_RANGES[employee_bucket(employees)],
                "industry": industry.provider_b,
                "as_of": iso_date(as_of),
            }
        headcount = str(employees) if rv.random() < 0.5 else _HS_RANGES[employee_bucket(employees)]
        return {
            "record_id": sid,
            "org_name": tree.name,
            "url": f"http://{domain}" if domain else None,
            "country_code": tree.country.iso3,
            "revenue": money_text(revenue),
            "headcount": headcount,
            "sector": industry.provider_c,
            "last_verified": dmy_date(as_of),
            "score": str(int(quality * 100)),
        }

    def _older_value(self, kind: Kind, values: dict[str, str | None], r: random.Random) -> None:
        """Make a late-arriving version look like what the record held before (an older
        revenue, title, status or stage), so a pipeline that lets it win ends up wrong."""

        def older_title(key: str) -> None:
            titles = [t for t, _ in vocab.TITLES if t != values.get(key)]
            values[key] = titles[r.randrange(len(titles))]

        if kind == Kind.ACCOUNT:
            values["AnnualRevenue"] = str(
                round3(int(values["AnnualRevenue"] or 0) * 0.85) or 100_000
            )
        elif kind == Kind.CONTACT:
            older_title("Title")
        elif kind == Kind.LEAD:
            if values["Status"] != vocab.LEAD_STATUS_OPEN[0] and values["IsConverted"] == "false":
                values["Status"] = vocab.LEAD_STATUS_OPEN[0]
            else:
                older_title("Title")
        elif kind == Kind.OPPORTUNITY:
            stage = next(i for i, s in enumerate(vocab.STAGES) if s[0] == values["StageName"])
            prev = max(0, stage - 1) if stage < vocab.OPEN_STAGES else vocab.OPEN_STAGES - 1
            name, prob, closed, won = vocab.STAGES[prev]
            values["StageName"], values["Probability"] = name, str(prob)
            values["IsClosed"], values["IsWon"] = str(closed).lower(), str(won).lower()
            values["Amount"] = str(int(round(int(values["Amount"] or 0) * 0.9, -2)))
        elif kind == Kind.HS_COMPANY:
            values["annualrevenue"] = str(
                round3(int(values["annualrevenue"] or 0) * 0.85) or 100_000
            )
        elif kind == Kind.HS_CONTACT:
            older_title("jobtitle")

    def _stored_faults(
        self,
        tree: Tree,
        rec: Rec,
        values: dict[str, str | None],
        u: list[float],
        detail_seed: int,
        tags: list[str],
    ) -> None:
        spec = SPECS[rec.kind]
        rates = self.rates[rec.born]
        tally = self.tally
        dr: random.Random | None = None

        def detail() -> random.Random:
            nonlocal dr
            if dr is None:
                dr = random.Random(detail_seed)
            return dr

        for fname in spec.name_fields:
            v = values.get(fname)
            if v:
                tally.eligible["name_variant"] += 1
                if u[0] < rates.name_variant:
                    values[fname] = faults.name_variant(v, tree.base_name, tree.suffix, detail())
                    tags.append("name_variant")
                    tally.counts["name_variant"] += 1
        for fname in spec.domain_fields:
            v = values.get(fname)
            if v:
                tally.eligible["domain_variant"] += 1
                if u[1] < rates.domain_variant:
                    values[fname] = faults.domain_variant(v, detail()) or None
                    tags.append("domain_variant")
                    tally.counts["domain_variant"] += 1
        for fname in spec.email_fields:
            v = values.get(fname)
            if v:
                tally.eligible["email_variant"] += 1
                if u[2] < rates.email_variant:
                    values[fname] = faults.email_variant(v, detail())
                    tags.append("email_variant")
                    tally.counts["email_variant"] += 1
        typo_fields = [k for k in spec.typo_fields if values.get(k)]
        if typo_fields:
            tally.eligible["typo"] += 1
            if u[3] < rates.typo:
                key = typo_fields[detail().randrange(len(typo_fields))]
                values[key] = faults.typo(values[key] or "", detail())
                tags.append("typo")
                tally.counts["typo"] += 1
        missing = [k for k in spec.missing_fields if values.get(k)]
        if missing:
            tally.eligible["missing_field"] += 1
            if u[4] < rates.missing_field:
                values[missing[detail().randrange(len(missing))]] = None
                tags.append("missing_field")
                tally.counts["missing_field"] += 1


def older_lmd(rec: Rec, u: float) -> int | None:
    """A LastModifiedDate strictly older than the delivered version's and not before creation;
    None when the record has no room for an older version."""
    span = rec.lmd_ms - rec.created_ms
    if span < 2000:
        return None
    older = rec.lmd_ms - 1000 - int(u * min(span - 1000, 30 * DAY_MS))
    return max(rec.created_ms, older // 1000 * 1000)
