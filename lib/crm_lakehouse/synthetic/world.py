"""The true world: companies, their people, opportunities, and which source records exist.

A company and everything hanging off it (people, CRM records, provider rows) form a *tree*
that is a pure function of ``(seed, company index)`` plus the delivery chain (for changes made
in later deltas). Trees are built one at a time and thrown away, which is what keeps memory
bounded at any scale: nothing here holds more than one company's tree.

Source membership is decided per company with a low-discrepancy sequence (so the shares of
Salesforce-only, HubSpot-only, shared and prospect companies are close to their targets even
at small scales); the number of people, their roles in each system and the opportunities are
drawn from the company's own random stream. :func:`expected_records_per_company` derives the
average number of source records per company from the same tables, which turns the requested
``scale`` (total source records) into a number of companies.
"""

from __future__ import annotations

import enum
import functools
import math
import random
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field

from crm_lakehouse.synthetic import vocab
from crm_lakehouse.synthetic.rand import Weighted, mix, rng, scramble, unit

DAY_MS = 86_400_000
HOUR_MS = 3_600_000
YEAR_MS = 365 * DAY_MS

# Stream tags: each kind of decision draws from its own keyed stream, so adding draws to one
# never shifts another (and fault rates never change the world itself).
T_WORLD = 11
T_CATEGORY = 12
T_SALT = 13
T_TOUCH = 21
T_EVENT = 22
T_LATE = 23
T_RENDER = 31
T_PROVIDER = 32
T_DELIVERY = 41
T_DETAIL = 43
T_REDELIVERY = 44
T_EXTRA = 45


class Kind(enum.IntEnum):
    """One kind of delivered record; the value is also part of every record's random key."""

    ACCOUNT = 1
    CONTACT = 2
    LEAD = 3
    OPPORTUNITY = 4
    HS_COMPANY = 5
    HS_CONTACT = 6
    PROVIDER_A = 7
    PROVIDER_B = 8
    PROVIDER_C = 9

    @property
    def source(self) -> str:
        return _KIND_META[self][0]

    @property
    def entity(self) -> str:
        return _KIND_META[self][1]

    @property
    def entity_kind(self) -> str:
        """What the record is about in the truth: ``company``, ``person`` or ``opportunity``."""
        return _KIND_META[self][2]

    @property
    def is_crm(self) -> bool:
        return self <= Kind.HS_CONTACT

    @property
    def is_provider(self) -> bool:
        return self >= Kind.PROVIDER_A


_KIND_META: dict[Kind, tuple[str, str, str]] = {
    Kind.ACCOUNT: ("salesforce", "accounts", "company"),
    Kind.CONTACT: ("salesforce", "contacts", "person"),
    Kind.LEAD: ("salesforce", "leads", "person"),
    Kind.OPPORTUNITY: ("salesforce", "opportunities", "opportunity"),
    Kind.HS_COMPANY: ("hubspot", "companies", "company"),
    Kind.HS_CONTACT: ("hubspot", "contacts", "person"),
    Kind.PROVIDER_A: ("provider_a", "firmographics", "company"),
    Kind.PROVIDER_B: ("provider_b", "firmographics", "company"),
    Kind.PROVIDER_C: ("provider_c", "firmographics", "company"),
}


@dataclass(frozen=True)
class Category:
    """Which CRMs know a company (after the acquisition), and what its people look like there.

    Role codes: ``C`` Salesforce contact, ``H`` HubSpot contact, ``L`` Salesforce lead, ``V`` the
    lead was converted (always together with ``C`` and ``L``).
    """

    name: str
    weight: float
    in_sf: bool
    in_hs: bool
    people: tuple[tuple[int, float], ...]
    roles: tuple[tuple[str, float], ...]


CATEGORIES: tuple[Category, ...] = (
    Category(
        "shared",
        0.34,
        True,
        True,
        ((1, 0.22), (2, 0.27), (3, 0.19), (4, 0.12), (5, 0.09), (6, 0.05), (8, 0.04), (12, 0.02)),
        (
            ("C", 0.3),
            ("H", 0.1),
            ("L", 0.06),
            ("CH", 0.17),
            ("CLV", 0.1),
            ("CHLV", 0.05),
            ("HL", 0.05),
            ("CL", 0.04),
            ("CHL", 0.03),
        ),
    ),
    Category(
        "salesforce_only",
        0.34,
        True,
        False,
        ((1, 0.25), (2, 0.27), (3, 0.19), (4, 0.11), (5, 0.08), (6, 0.05), (8, 0.03), (12, 0.02)),
        (("C", 0.5), ("L", 0.12), ("CLV", 0.17), ("CL", 0.05), ("H", 0.04), ("CH", 0.09)),
    ),
    Category(
        "hubspot_only",
        0.22,
        False,
        True,
        ((1, 0.38), (2, 0.3), (3, 0.16), (4, 0.08), (5, 0.05), (7, 0.03)),
        (("H", 0.62), ("L", 0.18), ("HL", 0.2)),
    ),
    Category(
        "prospect",
        0.10,
        False,
        False,
        ((1, 0.55), (2, 0.3), (3, 0.11), (4, 0.04)),
        (("L", 0.6), ("H", 0.25), ("HL", 0.15)),
    ),
)
_CATEGORY_W = Weighted([(c, c.weight) for c in CATEGORIES])
_PEOPLE_W = [Weighted(c.people) for c in CATEGORIES]
_ROLES_W = [Weighted(c.roles) for c in CATEGORIES]

SF_DUPLICATE_ACCOUNT = 0.05  # share of Salesforce companies entered twice (intra-source duplicate)
HS_DUPLICATE_COMPANY = 0.03
PROVIDER_COVERAGE = 0.35  # each provider covers about a third of companies; together most
OPPORTUNITY_COUNTS: tuple[tuple[int, float], ...] = (
    (0, 0.25),
    (1, 0.28),
    (2, 0.2),
    (3, 0.12),
    (4, 0.07),
    (5, 0.04),
    (6, 0.02),
    (8, 0.02),
)
_OPP_W = Weighted(OPPORTUNITY_COUNTS)
_SUFFIX_PRESENT = 0.88
_NO_DOMAIN = 0.07
_MOBILE = 0.3
_HISTORY_MS = 6 * YEAR_MS

# Delta dynamics (per delivery after the first).
P_TOUCH = 0.05  # share of companies with any activity in a delta (about 1% of records updated)
P_RECORD_UPDATE = {Kind.OPPORTUNITY: 0.3, Kind.LEAD: 0.15}
P_RECORD_UPDATE_DEFAULT = 0.08
P_PROVIDER_REFRESH = 0.3
P_DELETE = 0.02
NEW_COMPANY_RATE = 0.002
SLOTS_PER_DELIVERY = 256  # new slots created in delivery j start at 256*j; supports 255 deltas

_COUNTRY_W = Weighted([(c, c.weight) for c in vocab.COUNTRIES])
_INDUSTRY_W = Weighted([(i, i.weight) for i in vocab.INDUSTRIES])
_TITLE_W = Weighted(vocab.TITLES)
_LEAD_SOURCE_W = Weighted(vocab.LEAD_SOURCES)
_OPP_TYPE_W = Weighted(vocab.OPP_TYPES)
_SUFFIX_W = {c.iso2: Weighted(c.suffixes) for c in vocab.COUNTRIES}
_TLD_W = {c.iso2: Weighted(c.tlds) for c in vocab.COUNTRIES}
_EMAIL_PATTERN_W = Weighted([(0, 0.55), (1, 0.2), (2, 0.1), (3, 0.1), (4, 0.05)])

NAME_D: tuple[str, ...] = tuple(
    dict.fromkeys(vocab.NAME_D_GENERIC + tuple(d for i in vocab.INDUSTRIES for d in i.descriptors))
)
_AFFINITY: dict[str, Weighted] = {}
for _d in NAME_D:
    _inds = [(i, i.weight) for i in vocab.INDUSTRIES if _d in i.descriptors]
    if _inds:
        _AFFINITY[_d] = Weighted(_inds)
NAME_CYCLE = len(vocab.NAME_A) * len(vocab.NAME_B) * len(NAME_D)
NAME_SPACE = NAME_CYCLE * (1 + len(vocab.NAME_REGION))  # distinct base names
NAME_MULTIPLIER = 1_000_003  # prime, larger than any factor of NAME_CYCLE: a bijection
OWNERS = 40


def expected_records_per_company() -> float:
    """Mean number of source records one company tree delivers in a full dump.

    Computed from the same tables the generator draws from, so ``scale / this`` companies
    deliver about ``scale`` records.
    """
    total = 0.0
    for cat in CATEGORIES:
        wsum = sum(w for _, w in cat.people)
        mean_people = sum(n * w for n, w in cat.people) / wsum
        rsum = sum(w for _, w in cat.roles)
        mean_roles = sum((("C" in r) + ("H" in r) + ("L" in r)) * w for r, w in cat.roles) / rsum
        per = mean_people * mean_roles
        per += (1 + SF_DUPLICATE_ACCOUNT) if cat.in_sf else 0.0
        per += (1 + HS_DUPLICATE_COMPANY) if cat.in_hs else 0.0
        if cat.in_sf or cat.in_hs:
            per += 3 * PROVIDER_COVERAGE
        else:  # prospects are known to at least one provider
            per += 3 * PROVIDER_COVERAGE + (1 - PROVIDER_COVERAGE) ** 3
        if cat.in_sf:
            osum = sum(w for _, w in OPPORTUNITY_COUNTS)
            per += sum(n * w for n, w in OPPORTUNITY_COUNTS) / osum
        total += cat.weight * per
    return total / sum(c.weight for c in CATEGORIES)


def companies_for_scale(scale: int) -> int:
    """Number of base companies so a full dump delivers about ``scale`` records."""
    return max(1, round(scale / expected_records_per_company()))


def round3(x: float) -> int:
    """Round to three significant digits: how revenue is known in practice, and what makes the
    provider formats ("$12.3M", thousands) represent the true value exactly."""
    if x <= 0:
        return 0
    digits = math.floor(math.log10(x)) - 2
    q = 10**digits if digits > 0 else 1
    return round(x / q) * q


def employee_bucket(n: int) -> int:
    for i, (lo, hi) in enumerate(vocab.EMPLOYEE_BUCKETS):
        if hi is None or n <= hi:
            return i if n >= lo else 0
    return len(vocab.EMPLOYEE_BUCKETS) - 1


@dataclass(frozen=True)
class CompanyState:
    """The attributes of a company that change over time (a new snapshot per change)."""

    domain: str | None
    phone: str
    street: str
    revenue_usd: int
    employees: int


@dataclass(frozen=True)
class PersonState:
    title: str
    phone: str


@dataclass(slots=True)
class Person:
    slot: int
    person_id: str
    first_name: str
    last_name: str
    email: str
    country: str
    locale: str
    roles: str
    born: int
    states: list[PersonState]  # states[idx - born] for delivery idx >= born

    def state(self, idx: int) -> PersonState:
        return self.states[min(idx - self.born, len(self.states) - 1)]


@dataclass(slots=True)
class Rec:
    """One source record (a Salesforce row, a HubSpot object or a provider row) over time.

    ``slot`` identifies the record within its company and kind (person slot for person records,
    account/company duplicate number, opportunity number, 0 for providers); with the kind and
    the company index it is the record's random key. ``state_at`` is the delivery whose entity
    snapshot the latest delivered version shows.
    """

    kind: Kind
    slot: int
    person: int  # index into tree.people, -1 if none
    link: int  # account slot (contacts, opportunities, converted leads) / HubSpot company slot
    born: int
    created_ms: int
    lmd_ms: int
    owner: int
    state_at: int
    version: int = 0
    deleted: bool = False
    event: str = "snapshot"
    event_idx: int = 0
    # kind-specific mutable values
    stage: int = 0
    amount: int = 0
    close_day: int = 0
    currency: str = "USD"
    opp_type: str = ""
    lead_source: str = ""
    lead_status: str = ""
    converted: bool = False
    lifecycle: int = 0
    as_of_day: int = 0
    product: str = ""


@dataclass(slots=True)
class Tree:
    """One company with its people and records, as of the last replayed delivery."""

    index: int
    company_id: str
    born: int
    base_name: str
    suffix: str
    name: str
    country: vocab.Country
    city: vocab.City
    postal_code: str
    industry: vocab.Industry
    naics: str
    category: Category
    email_pattern: int
    since_ms: int
    owner: int
    n_accounts: int  # Salesforce accounts of this company (2 = an intra-source duplicate)
    n_hs_companies: int
    states: list[CompanyState]
    people: list[Person] = field(default_factory=list)
    records: list[Rec] = field(default_factory=list)

    def state(self, idx: int) -> CompanyState:
        return self.states[min(idx - self.born, len(self.states) - 1)]

    def has_role(self, person: int, kind: Kind) -> bool:
        return any(r.person == person and r.kind == kind for r in self.records)


@dataclass(frozen=True)
class Timeline:
    """The delivery chain: ``days[0]`` is the full dump, later entries are deltas.

    Days are epoch days (UTC); a dump dated D shows the state as of D 00:00 UTC.
    """

    days: tuple[int, ...]

    def window(self, idx: int) -> tuple[int, int]:
        """Milliseconds in which changes delivered by ``idx`` happened."""
        hi = self.days[idx] * DAY_MS
        lo = self.days[idx - 1] * DAY_MS if idx > 0 else hi - _HISTORY_MS
        return lo, hi


@dataclass(frozen=True)
class WorldParams:
    seed: int
    scale: int
    timeline: Timeline
    n_companies: int  # base companies (delivery 0)

    @property
    def pod(self) -> str:
        """The two-character Salesforce instance identifier in every id of this org."""
        r = rng(self.seed, T_SALT, 1)
        return str(r.randrange(1, 10)) + "abcdefghjkmnpqrstuvwxyz"[_ri(r, 23)]

    def salt(self, what: int) -> int:
        return mix(self.seed, T_SALT, what)

    def new_companies(self, idx: int) -> int:
        return 0 if idx == 0 else max(1, round(self.n_companies * NEW_COMPANY_RATE))

    def company_range(self, idx: int) -> tuple[int, int]:
        """Index range of the companies first delivered in delivery ``idx``."""
        start = self.n_companies + sum(self.new_companies(i) for i in range(1, idx))
        end = self.n_companies if idx == 0 else start + self.new_companies(idx)
        return (0, end) if idx == 0 else (start, end)

    def companies_at(self, idx: int) -> int:
        return self.company_range(idx)[1]

    def born_of(self, c: int) -> int:
        """The delivery in which company ``c`` first appears."""
        if c < self.n_companies:
            return 0
        for k in range(1, len(self.timeline.days)):
            if c < self.company_range(k)[1]:
                return k
        raise ValueError(
            f"company index {c} does not exist by {len(self.timeline.days) - 1} deltas"
        )


# --------------------------------------------------------------------------- text helpers

_NON_ALNUM = re.compile(r"[^a-z0-9]")
_FOLD = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss", "Ä": "Ae", "Ö": "Oe", "Ü": "Ue"})


@functools.lru_cache(maxsize=65536)
def ascii_fold(s: str, locale: str) -> str:
    """Lower-case ASCII for email local parts and domains: German umlauts expand, other
    accents drop, anything else that is not a letter or digit goes. Cached: the inputs come
    from small vocabularies."""
    if locale == "de":
        s = s.translate(_FOLD)
    if not s.isascii():
        s = unicodedata.normalize("NFKD", s).encode("ascii", "ignore").decode("ascii")
    return _NON_ALNUM.sub("", s.lower())


def _ri(r: random.Random, n: int) -> int:
    """A uniform integer in [0, n): ``randrange`` costs ten times more and this runs millions
    of times (the float has 53 bits, ample for the small ranges used here)."""
    return int(r.random() * n)


def _fill(pattern: str, r: random.Random) -> str:
    out = ""
    for ch in pattern:
        if ch == "#":
            out += "0123456789"[int(r.random() * 10)]
        elif ch == "@":
            out += "ABCDEFGHJKLMNPRSTUVWXY"[int(r.random() * 22)]
        else:
            out += ch
    return out


def _local_number(r: random.Random, digits: int, first: str) -> str:
    return first[int(r.random() * len(first))] + str(int(r.random() * 10 ** (digits - 1))).zfill(
        digits - 1
    )


def landline(country: vocab.Country, city: vocab.City, r: random.Random) -> str:
    """An E.164 number in ``city``'s area (NANP exchanges avoid N11 and 555)."""
    local = _local_number(r, city.local_digits, city.local_first)
    if country.calling_code == "1":
        while local[1:3] == "11" or local[:3] == "555":
            local = _local_number(r, city.local_digits, city.local_first)
    return f"+{country.calling_code}{city.area}{local}"


def mobile(country: vocab.Country, city: vocab.City, r: random.Random) -> str:
    if not country.mobile_prefixes:
        return landline(country, city, r)
    prefix = country.mobile_prefixes[_ri(r, len(country.mobile_prefixes))]
    rest = str(int(r.random() * 10**country.mobile_digits)).zfill(country.mobile_digits)
    return f"+{country.calling_code}{prefix}{rest}"


def street_address(country: vocab.Country, r: random.Random) -> str:
    loc = country.locale
    names = vocab.STREETS.get(loc, vocab.STREETS["en"])
    name = names[_ri(r, len(names))]
    number = 1 + _ri(r, 399) if loc != "en" else 1 + _ri(r, 9899)
    if loc == "de":
        return f"{name}{'straße' if r.random() < 0.7 else 'weg'} {number}"
    if loc == "fr":
        kind = ("rue", "avenue", "boulevard")[_ri(r, 3)]
        return f"{number} {kind} {name}"
    if loc == "nl":
        kind = ("straat", "gracht", "laan", "weg")[_ri(r, 4)]
        return f"{name}{kind} {number}"
    if loc == "es":
        kind = ("Calle", "Avenida", "Paseo")[_ri(r, 3)]
        return f"{kind} {name}, {number}"
    kind = vocab.STREET_KINDS_EN[_ri(r, len(vocab.STREET_KINDS_EN))]
    suite = f", Suite {(1 + _ri(r, 39)) * 10}" if country.iso2 == "US" and r.random() < 0.25 else ""
    return f"{number} {name} {kind}{suite}"


def _company_domain(base_name: str, country: vocab.Country, style: int, r: random.Random) -> str:
    words = [ascii_fold(w, "en") for w in base_name.split()]
    label = "-".join(words) if style == 1 else "".join(words)
    tld = _TLD_W[country.iso2].pick(r)
    return f"{label}{tld}"


def _email(
    person_first: str, person_last: str, locale: str, pattern: int, domain: str | None, unique: int
) -> str:
    f = ascii_fold(person_first, locale)
    last = ascii_fold(person_last, locale)
    if domain is None:
        # a number unique to the company (namesakes within it are numbered by the caller):
        # personal mailboxes of different people never coincide
        host = vocab.PERSONAL_EMAIL_DOMAINS[unique % len(vocab.PERSONAL_EMAIL_DOMAINS)]
        return f"{f}.{last}{unique}@{host}"
    local = (f"{f}.{last}", f"{f[:1]}{last}", f, f"{f}{last[:1]}", f"{f}_{last}")[pattern]
    return f"{local}@{domain}"


# --------------------------------------------------------------------------- tree building


def company_id(c: int) -> str:
    return f"C{c:09d}"


def person_id(c: int, slot: int) -> str:
    return f"P{c:09d}-{slot:04d}"


def opportunity_id(c: int, slot: int) -> str:
    return f"O{c:09d}-{slot:04d}"


def _times(r: random.Random, lo: int, hi: int) -> tuple[int, int]:
    """(created, last modified) in [lo, hi), at least an hour apart, modified skewed recent."""
    lo = min(lo, hi - 3 * HOUR_MS)
    created = lo + int(r.random() * (hi - lo - 2 * HOUR_MS))
    span = hi - created - HOUR_MS - 1000
    lmd = created + HOUR_MS + int((1.0 - r.random() ** 2) * span)
    return created // 1000 * 1000, lmd // 1000 * 1000


def build_tree(p: WorldParams, c: int) -> Tree:
    """Company ``c`` with its people and records as first delivered (before any delta)."""
    born = p.born_of(c)
    lo, hi = p.timeline.window(born)
    r = rng(p.seed, T_WORLD, c)
    u_cat = (c * 0.6180339887498949 + unit(p.seed, T_CATEGORY)) % 1.0
    cat_i = _CATEGORY_W.index_u(u_cat)
    cat = CATEGORIES[cat_i]
    country = _COUNTRY_W.pick(r)
    city = country.cities[_ri(r, len(country.cities))]

    region, within = divmod(c, NAME_CYCLE)  # region words only once the plain names run out
    rest = scramble(within, NAME_CYCLE, NAME_MULTIPLIER, p.salt(1) % NAME_CYCLE)
    rest, d_i = divmod(rest, len(NAME_D))
    a_i, b_i = divmod(rest, len(vocab.NAME_B))
    a, b, d = vocab.NAME_A[a_i], vocab.NAME_B[b_i], NAME_D[d_i]
    base = f"{a}{b} {d}" if r.random() < 0.75 else f"{a} {b.capitalize()} {d}"
    if region:
        base = f"{base} {vocab.NAME_REGION[(region - 1) % len(vocab.NAME_REGION)]}"
    industry = _AFFINITY[d].pick(r) if d in _AFFINITY and r.random() < 0.9 else _INDUSTRY_W.pick(r)
    naics = industry.naics[_ri(r, len(industry.naics))]
    suffix = _SUFFIX_W[country.iso2].pick(r) if r.random() < _SUFFIX_PRESENT else ""
    name = f"{base} {suffix}" if suffix else base

    n_people = _PEOPLE_W[cat_i].pick(r)
    employees = int(min(250_000, max(1, math.exp(r.gauss(2.4 + 0.5 * n_people, 1.3)))))
    revenue = round3(
        max(100_000.0, employees * industry.revenue_per_employee * math.exp(r.gauss(0, 0.35)))
    )
    style = 1 if r.random() < 0.2 else 0
    domain = None if r.random() < _NO_DOMAIN else _company_domain(base, country, style, r)
    phone = landline(country, city, r)
    street = street_address(country, r)
    postal = _fill(city.postal[_ri(r, len(city.postal))], r)
    email_pattern = _EMAIL_PATTERN_W.pick(r)
    since = lo + int(r.random() * (hi - lo) * (0.9 if born == 0 else 0.5))
    owner = _ri(r, OWNERS)
    n_sf = (2 if r.random() < SF_DUPLICATE_ACCOUNT else 1) if cat.in_sf else 0
    n_hs = (2 if r.random() < HS_DUPLICATE_COMPANY else 1) if cat.in_hs else 0
    providers = [r.random() < PROVIDER_COVERAGE for _ in range(3)]
    if not (cat.in_sf or cat.in_hs) and not any(providers):
        providers[_ri(r, 3)] = True
    n_opps = _OPP_W.pick(r) if cat.in_sf else 0

    tree = Tree(
        index=c,
        company_id=company_id(c),
        born=born,
        base_name=base,
        suffix=suffix,
        name=name,
        country=country,
        city=city,
        postal_code=postal,
        industry=industry,
        naics=naics,
        category=cat,
        email_pattern=email_pattern,
        since_ms=since,
        owner=owner,
        n_accounts=n_sf,
        n_hs_companies=n_hs,
        states=[CompanyState(domain, phone, street, revenue, employees)],
    )
    for slot in range(n_sf):
        created, lmd = _times(r, since, hi)
        tree.records.append(
            Rec(
                Kind.ACCOUNT,
                slot,
                -1,
                -1,
                born,
                created,
                lmd,
                owner if slot == 0 else _ri(r, OWNERS),
                born,
            )
        )
    for slot in range(n_hs):
        created, lmd = _times(r, since, hi)
        tree.records.append(Rec(Kind.HS_COMPANY, slot, -1, -1, born, created, lmd, 0, born))
    for i, present in enumerate(providers):
        if present:
            kind = (Kind.PROVIDER_A, Kind.PROVIDER_B, Kind.PROVIDER_C)[i]
            created, lmd = _times(r, since, hi)
            tree.records.append(Rec(kind, 0, -1, -1, born, created, lmd, 0, born))
    for slot in range(n_people):
        add_person(p, tree, r, slot, _ROLES_W[cat_i].pick(r), born, since, hi)
    for slot in range(n_opps):
        add_opportunity(tree, r, slot, born, since, hi, p.timeline.days[born])
    if born > 0:  # a company that first appears in a delta: all of it is new
        for rec in tree.records:
            rec.event, rec.event_idx = "new", born
            if rec.kind.is_provider:
                rec.as_of_day = p.timeline.days[born] - 1
    return tree


def add_person(
    p: WorldParams, tree: Tree, r: random.Random, slot: int, roles: str, born: int, lo: int, hi: int
) -> Person:
    """Create a person at ``tree`` with one record per role (lead before contact if converted)."""
    country = tree.country
    locale = country.locale if r.random() < 0.85 else "en"
    firsts, lasts = vocab.FIRST_NAMES[locale], vocab.LAST_NAMES[locale]
    first = firsts[_ri(r, len(firsts))]
    last = lasts[_ri(r, len(lasts))]
    title = _TITLE_W.pick(r)
    phone = (
        mobile(country, tree.city, r) if r.random() < _MOBILE else landline(country, tree.city, r)
    )
    iso2 = country.iso2 if r.random() < 0.95 else vocab.COUNTRIES[_ri(r, len(vocab.COUNTRIES))].iso2
    unique = scramble(tree.index % 10**7, 10**7, NAME_MULTIPLIER, p.salt(8) % 10**7)
    email = _email(first, last, locale, tree.email_pattern, tree.state(born).domain, unique)
    if any(x.email == email for x in tree.people):  # a namesake colleague gets a numbered address
        local, _, host = email.partition("@")
        email = f"{local}{slot + 2}@{host}"
    person = Person(
        slot,
        person_id(tree.index, slot),
        first,
        last,
        email,
        iso2,
        locale,
        roles,
        born,
        [PersonState(title, phone)],
    )
    tree.people.append(person)
    pi = len(tree.people) - 1
    add_roles(tree, r, pi, roles, born, lo, hi)
    return person


def add_roles(
    tree: Tree, r: random.Random, pi: int, roles: str, born: int, lo: int, hi: int
) -> None:
    slot = tree.people[pi].slot
    n_sf, n_hs = tree.n_accounts, tree.n_hs_companies
    account = 1 if n_sf == 2 and r.random() < 0.3 else 0
    owner = tree.owner if r.random() < 0.8 else _ri(r, OWNERS)
    lead_created = lead_lmd = 0
    if "L" in roles:
        lead_created, lead_lmd = _times(r, lo, hi)
        lead = Rec(
            Kind.LEAD,
            slot,
            pi,
            account if "V" in roles else -1,
            born,
            lead_created,
            lead_lmd,
            owner,
            born,
        )
        lead.lead_source = _LEAD_SOURCE_W.pick(r)
        if "V" in roles:
            lead.converted = True
            lead.lead_status = vocab.LEAD_STATUS_CONVERTED
        elif r.random() < 0.3:
            lead.lead_status = vocab.LEAD_STATUS_CLOSED_NOT_CONVERTED
        else:
            lead.lead_status = vocab.LEAD_STATUS_OPEN[_ri(r, 2)]
        tree.records.append(lead)
    if "C" in roles and n_sf:
        account_created = _created(tree, Kind.ACCOUNT, account)
        if "V" in roles:  # the conversion created the contact and last touched the lead
            created = min(lead_created + int(r.random() * 45 * DAY_MS) + HOUR_MS, hi - 2 * HOUR_MS)
            created = max(created, lead_created + HOUR_MS, account_created + HOUR_MS) // 1000 * 1000
            lmd = created + int(r.random() * (hi - created - HOUR_MS)) // 1000 * 1000
            tree.records[-1].lmd_ms = created
        else:
            created, lmd = _times(r, max(lo, account_created), hi)
        tree.records.append(Rec(Kind.CONTACT, slot, pi, account, born, created, lmd, owner, born))
    if "H" in roles:
        link = (1 if n_hs == 2 and r.random() < 0.3 else 0) if n_hs else -1
        company_created = _created(tree, Kind.HS_COMPANY, link) if link >= 0 else lo
        created, lmd = _times(r, max(lo, company_created), hi)
        hc = Rec(Kind.HS_CONTACT, slot, pi, link, born, created, lmd, 0, born)
        hc.lifecycle = _ri(r, 6) if "C" not in roles else 5 if r.random() < 0.6 else 4
        tree.records.append(hc)


def _created(tree: Tree, kind: Kind, slot: int) -> int:
    """Creation time of the tree's record of ``kind``/``slot`` (records reference the account
    or company they hang off, which must exist first)."""
    return next((x.created_ms for x in tree.records if x.kind == kind and x.slot == slot), 0)


def add_opportunity(
    tree: Tree, r: random.Random, slot: int, born: int, lo: int, hi: int, day: int
) -> Rec:
    """An opportunity on the company's (first, usually) Salesforce account.

    Closed deals have a close date in the past, open ones in the future; stage, probability,
    IsClosed and IsWon always agree (they come from one row of :data:`vocab.STAGES`).
    """
    account = 1 if tree.n_accounts == 2 and r.random() < 0.2 else 0
    created, lmd = _times(r, max(lo, _created(tree, Kind.ACCOUNT, account)), hi)
    opp = Rec(
        Kind.OPPORTUNITY,
        slot,
        -1,
        account,
        born,
        created,
        lmd,
        tree.owner if r.random() < 0.85 else _ri(r, OWNERS),
        born,
    )
    age_days = (hi - created) / DAY_MS
    p_closed = 0.85 if age_days > 180 else 0.35 if age_days > 30 else 0.1
    if r.random() < p_closed:
        opp.stage = vocab.STAGE_WON if r.random() < 0.5 else vocab.STAGE_LOST
        opp.close_day = min(created // DAY_MS + 10 + _ri(r, 170), day - 1)
    else:
        opp.stage = _ri(r, vocab.OPEN_STAGES)
        opp.close_day = day + 5 + _ri(r, 180)
    emp = tree.state(born).employees
    opp.amount = int(round(min(2e6, max(1000.0, emp**0.55 * 900 * math.exp(r.gauss(0, 0.6)))), -2))
    iso = tree.country.iso2
    if iso == "GB" and r.random() < 0.7:
        opp.currency = "GBP"
    elif tree.country.currency == "EUR" and r.random() < 0.6:
        opp.currency = "EUR"
    opp.opp_type = _OPP_TYPE_W.pick(r)
    opp.lead_source = _LEAD_SOURCE_W.pick(r)
    opp.product = vocab.OPP_PRODUCTS[_ri(r, len(vocab.OPP_PRODUCTS))]
    tree.records.append(opp)
    return opp


# --------------------------------------------------------------------------- deltas


def apply_delta(p: WorldParams, tree: Tree, idx: int) -> None:
    """Apply the changes that delivery ``idx`` (a delta) carries to ``tree``.

    Only a small share of companies is touched in a delta; inside a touched company the truth
    may drift (revenue, headcount, phone, address, domain), people change titles and phones,
    new people, new records of existing people and new opportunities appear, records are
    updated (taking the current truth), provider rows are refreshed, and a few CRM records are
    deleted. Every event sets the record's ``event``/``event_idx`` so the caller knows what to
    deliver. Late-arriving updates do not change state and are decided by the caller.
    """
    prev = tree.states[-1]
    day = p.timeline.days[idx]
    lo, hi = p.timeline.window(idx)
    if unit(p.seed, T_TOUCH, tree.index, day) >= P_TOUCH:
        tree.states.append(prev)
        for person in tree.people:
            person.states.append(person.states[-1])
        return
    r = rng(p.seed, T_EVENT, tree.index, day)
    domain, phone, street, revenue, employees = (
        prev.domain,
        prev.phone,
        prev.street,
        prev.revenue_usd,
        prev.employees,
    )
    drift = r.random() < 0.6
    if drift:
        revenue = round3(max(100_000.0, revenue * math.exp(r.gauss(0.02, 0.06))))
        employees = max(1, round(employees * math.exp(r.gauss(0.01, 0.05))))
    if r.random() < 0.15:
        phone = landline(tree.country, tree.city, r)
    if r.random() < 0.06:
        street = street_address(tree.country, r)
    if domain is not None and r.random() < 0.02:
        label = domain.split(".", 1)[0]
        new_tld = ".io" if not domain.endswith(".io") else ".com"
        domain = label + new_tld
    company_changed = (domain, phone, street, revenue, employees) != (
        prev.domain,
        prev.phone,
        prev.street,
        prev.revenue_usd,
        prev.employees,
    )
    tree.states.append(CompanyState(domain, phone, street, revenue, employees))

    changed_people: set[int] = set()
    for pi, person in enumerate(tree.people):
        st = person.states[-1]
        title, pphone = st.title, st.phone
        if r.random() < 0.08:
            title = _TITLE_W.pick(r)
        if r.random() < 0.05:
            pphone = mobile(tree.country, tree.city, r)
        if (title, pphone) != (st.title, st.phone):
            changed_people.add(pi)
        person.states.append(PersonState(title, pphone))

    def touch(rec: Rec, event: str) -> None:
        rec.event, rec.event_idx = event, idx
        rec.lmd_ms = (lo + int(r.random() * (hi - lo - 1000))) // 1000 * 1000
        rec.state_at = idx
        rec.version += 1

    for rec in tree.records:
        if rec.deleted or rec.born >= idx:
            r.random(), r.random()  # keep the stream aligned per record
            continue
        u_del, u_upd = r.random(), r.random()
        if rec.kind.is_provider:
            if u_upd < P_PROVIDER_REFRESH:
                touch(rec, "refresh")
                rec.as_of_day = day - 1
            continue
        if u_del < P_DELETE:
            touch(rec, "delete")
            rec.deleted = True
            continue
        p_upd = P_RECORD_UPDATE.get(rec.kind, P_RECORD_UPDATE_DEFAULT)
        if company_changed and rec.kind in (Kind.ACCOUNT, Kind.HS_COMPANY):
            p_upd = 0.6
        if rec.person in changed_people:
            p_upd = 0.6
        if u_upd < p_upd:
            # an update always changes something the record shows: the truth it reflects
            # moved since its last version, or a record-level field (stage, status, owner)
            if rec.person >= 0:
                person = tree.people[rec.person]
                entity_moved = person.state(rec.state_at) != person.states[-1]
            else:
                entity_moved = (
                    rec.kind != Kind.OPPORTUNITY and tree.state(rec.state_at) != tree.states[-1]
                )
            if _evolve(tree, rec, r, day, force=not entity_moved) or entity_moved:
                touch(rec, "update")

    if r.random() < 0.25:  # a new hire
        slot = SLOTS_PER_DELIVERY * idx
        add_person(p, tree, r, slot, _ROLES_W[CATEGORIES.index(tree.category)].pick(r), idx, lo, hi)
    if tree.people and r.random() < 0.15:  # an existing person shows up in another system
        pi = _ri(r, len(tree.people))
        person = tree.people[pi]
        if person.born < idx:
            missing = ""
            if tree.category.in_hs and not tree.has_role(pi, Kind.HS_CONTACT):
                missing = "H"
            elif not tree.has_role(pi, Kind.LEAD):
                missing = "L"
            elif tree.category.in_sf and not tree.has_role(pi, Kind.CONTACT):
                missing = "C"
            if missing:
                person.roles += missing
                add_roles(tree, r, pi, missing, idx, lo, hi)
    if tree.category.in_sf and r.random() < 0.35:
        add_opportunity(tree, r, SLOTS_PER_DELIVERY * idx, idx, lo, hi, day)
    for rec in tree.records:
        if rec.born == idx:
            rec.event, rec.event_idx = "new", idx
            if rec.kind.is_provider:
                rec.as_of_day = day - 1


def _evolve(tree: Tree, rec: Rec, r: random.Random, day: int, *, force: bool) -> bool:
    """Record-level changes that come with an update (stage moves, status changes, owner
    reassignments). With ``force`` something must change if the record has anything left to
    change. Returns whether a record-level value changed."""
    kind = rec.kind
    if kind == Kind.OPPORTUNITY:
        if rec.stage < vocab.OPEN_STAGES:
            x = r.random()
            if x < 0.15:
                rec.stage, rec.close_day = vocab.STAGE_WON, day - 1
            elif x < 0.25:
                rec.stage, rec.close_day = vocab.STAGE_LOST, day - 1
            elif x < 0.8 and rec.stage < vocab.OPEN_STAGES - 1:
                rec.stage += 1
            else:
                rec.close_day = max(rec.close_day, day) + 14 + _ri(r, 60)
            if r.random() < 0.3:
                rec.amount = int(round(rec.amount * math.exp(r.gauss(0, 0.15)), -2)) or 1000
            return True
        return _reassign(rec, r)
    if kind == Kind.LEAD:
        if rec.lead_status == vocab.LEAD_STATUS_OPEN[0]:
            rec.lead_status = vocab.LEAD_STATUS_OPEN[1]
            return True
        if rec.lead_status == vocab.LEAD_STATUS_OPEN[1] and (force or r.random() < 0.4):
            rec.lead_status = vocab.LEAD_STATUS_CLOSED_NOT_CONVERTED
            return True
        return False
    if kind == Kind.HS_CONTACT:
        if rec.lifecycle < 6 and (force or r.random() < 0.5):
            rec.lifecycle += 1
            return True
        return False
    if kind in (Kind.ACCOUNT, Kind.CONTACT) and (force or r.random() < 0.2):
        return _reassign(rec, r)
    return False


def _reassign(rec: Rec, r: random.Random) -> bool:
    new = (rec.owner + 1 + _ri(r, OWNERS - 1)) % OWNERS  # always a different rep
    rec.owner = new
    return True


def late_candidates(p: WorldParams, tree: Tree, idx: int) -> Iterator[tuple[Rec, float]]:
    """Live CRM records eligible for a late-arriving (older) update in delivery ``idx``, each
    with its uniform draw; the caller compares it with the configured rate."""
    day = p.timeline.days[idx]
    for rec in tree.records:
        if rec.kind.is_crm and not rec.deleted and rec.born < idx and rec.event_idx != idx:
            yield rec, unit(p.seed, T_LATE, int(rec.kind), tree.index, rec.slot, day)


def replay(p: WorldParams, c: int, upto: int) -> Tree:
    """Company ``c`` after deliveries ``0..upto`` (built at its birth, then every delta)."""
    tree = build_tree(p, c)
    for idx in range(tree.born + 1, upto + 1):
        apply_delta(p, tree, idx)
    return tree
