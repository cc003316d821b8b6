"""Static reference vocabularies the synthetic world is drawn from.

Everything here is plain data: countries with their spellings, cities (with matching state,
postal-code pattern and telephone area code, so an address and a phone number of one company
agree with each other), legal-form suffixes, industries expressed in every source's own code
set, people's names per locale, job titles and the CRM picklists. Keeping the data apart from
the generation logic lets reviewers check realism without reading the generator.

Postal patterns use ``#`` for a digit and ``@`` for an upper-case letter. Phone ``local`` digit
counts are the subscriber digits after the area code, chosen so ``phonenumbers`` accepts the
resulting numbers as valid.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class City:
    name: str
    state_code: str
    state_name: str
    postal: tuple[str, ...]
    area: str
    local_digits: int
    local_first: str  # allowed first digits of the subscriber number
    exonym: str | None = None  # English name some exports use (e.g. "Munich" for "München")


@dataclass(frozen=True)
class Country:
    iso2: str
    iso3: str
    weight: float
    calling_code: str
    trunk: str  # national trunk prefix ("0" in most of Europe, "" in NANP)
    names: tuple[tuple[str, float], ...]  # spellings in CRM free-text fields, with weights
    provider_b_name: str
    hubspot_name: str
    locale: str
    currency: str
    tlds: tuple[tuple[str, float], ...]
    suffixes: tuple[tuple[str, float], ...]  # canonical legal forms, with weights
    cities: tuple[City, ...]
    mobile_prefixes: tuple[str, ...]  # national significant number prefixes of mobiles
    mobile_digits: int  # digits after the mobile prefix


def _c(
    name: str,
    sc: str,
    sn: str,
    postal: str,
    area: str,
    digits: int,
    first: str = "23456789",
    exonym: str | None = None,
) -> City:
    return City(name, sc, sn, tuple(postal.split("|")), area, digits, first, exonym)


# fmt: off
COUNTRIES: tuple[Country, ...] = (
    Country(
        iso2="US", iso3="USA", weight=0.52, calling_code="1", trunk="",
        names=(("United States", 0.45), ("USA", 0.25), ("US", 0.15), ("United States of America", 0.1), ("U.S.", 0.05)),
        provider_b_name="United States of America", hubspot_name="United States", locale="en", currency="USD",
        tlds=((".com", 0.9), (".io", 0.05), (".net", 0.05)),
        suffixes=(("Inc.", 0.5), ("LLC", 0.3), ("Corp.", 0.2)),
        cities=(
            _c("San Francisco", "CA", "California", "941##", "415", 7),
            _c("New York", "NY", "New York", "100##|101##", "212", 7),
            _c("Chicago", "IL", "Illinois", "606##", "312", 7),
            _c("Boston", "MA", "Massachusetts", "021##", "617", 7),
            _c("Seattle", "WA", "Washington", "981##", "206", 7),
            _c("Austin", "TX", "Texas", "787##", "512", 7),
            _c("Denver", "CO", "Colorado", "802##", "303", 7),
            _c("Atlanta", "GA", "Georgia", "303##", "404", 7),
            _c("Miami", "FL", "Florida", "331##", "305", 7),
            _c("Dallas", "TX", "Texas", "752##", "214", 7),
            _c("Los Angeles", "CA", "California", "900##", "310", 7),
            _c("San Diego", "CA", "California", "921##", "619", 7),
            _c("Portland", "OR", "Oregon", "972##", "503", 7),
            _c("Minneapolis", "MN", "Minnesota", "554##", "612", 7),
            _c("Charlotte", "NC", "North Carolina", "282##", "704", 7),
            _c("Phoenix", "AZ", "Arizona", "850##", "602", 7),
        ),
        mobile_prefixes=(), mobile_digits=0,
    ),
    Country(
        iso2="GB", iso3="GBR", weight=0.10, calling_code="44", trunk="0",
        names=(("United Kingdom", 0.5), ("UK", 0.3), ("GB", 0.1), ("England", 0.1)),
        provider_b_name="United Kingdom", hubspot_name="United Kingdom", locale="en", currency="GBP",
        tlds=((".co.uk", 0.7), (".com", 0.3)),
        suffixes=(("Ltd", 0.75), ("PLC", 0.1), ("LLP", 0.15)),
        cities=(
            _c("London", "", "England", "EC1A #@@|SW1A #@@|W1D #@@|E14 #@@|N1 #@@", "20", 8, "378"),
            _c("Manchester", "", "England", "M1 #@@|M2 #@@|M3 #@@", "161", 7, "2345789"),
            _c("Birmingham", "", "England", "B1 #@@|B2 #@@|B3 #@@", "121", 7, "234567"),
            _c("Edinburgh", "", "Scotland", "EH1 #@@|EH2 #@@|EH3 #@@", "131", 7, "2345"),
            _c("Leeds", "", "England", "LS1 #@@|LS2 #@@", "113", 7, "2345"),
            _c("Bristol", "", "England", "BS1 #@@|BS2 #@@", "117", 7, "29"),
        ),
        mobile_prefixes=("7400", "7500", "7800", "7900", "7950"), mobile_digits=6,
    ),
    Country(
        iso2="DE", iso3="DEU", weight=0.10, calling_code="49", trunk="0",
        names=(("Germany", 0.6), ("Deutschland", 0.2), ("DE", 0.2)),
        provider_b_name="Germany", hubspot_name="Germany", locale="de", currency="EUR",
        tlds=((".de", 0.8), (".com", 0.2)),
        suffixes=(("GmbH", 0.75), ("AG", 0.15), ("GmbH & Co. KG", 0.1)),
        cities=(
            _c("Berlin", "BE", "Berlin", "10###|12###", "30", 8),
            _c("München", "BY", "Bayern", "80###|81###", "89", 8, exonym="Munich"),
            _c("Hamburg", "HH", "Hamburg", "20###|22###", "40", 8),
            _c("Frankfurt am Main", "HE", "Hessen", "60###", "69", 8, exonym="Frankfurt"),
            _c("Köln", "NW", "Nordrhein-Westfalen", "50###|51###", "221", 7, exonym="Cologne"),
            _c("Stuttgart", "BW", "Baden-Württemberg", "70###", "711", 7),
            _c("Düsseldorf", "NW", "Nordrhein-Westfalen", "40###", "211", 7, exonym="Dusseldorf"),
        ),
        mobile_prefixes=("151", "152", "160", "170", "171", "172", "176"), mobile_digits=8,
    ),
    Country(
        iso2="FR", iso3="FRA", weight=0.06, calling_code="33", trunk="0",
        names=(("France", 0.8), ("FR", 0.2)),
        provider_b_name="France", hubspot_name="France", locale="fr", currency="EUR",
        tlds=((".fr", 0.75), (".com", 0.25)),
        suffixes=(("SAS", 0.55), ("S.A.", 0.3), ("SARL", 0.15)),
        cities=(
            _c("Paris", "IDF", "Île-de-France", "750##", "1", 8),
            _c("Lyon", "ARA", "Auvergne-Rhône-Alpes", "6900#", "4", 8),
            _c("Marseille", "PAC", "Provence-Alpes-Côte d'Azur", "130##", "4", 8),
            _c("Toulouse", "OCC", "Occitanie", "310##", "5", 8, "2345678"),
            _c("Lille", "HDF", "Hauts-de-France", "5900#", "3", 8),
            _c("Nantes", "PDL", "Pays de la Loire", "4400#", "2", 8, "2345789"),
        ),
        mobile_prefixes=("60", "61", "62", "64", "65", "66", "67", "68", "75", "76", "77", "78"), mobile_digits=7,
    ),
    Country(
        iso2="CA", iso3="CAN", weight=0.06, calling_code="1", trunk="",
        names=(("Canada", 0.85), ("CA", 0.1), ("CAN", 0.05)),
        provider_b_name="Canada", hubspot_name="Canada", locale="en", currency="USD",
        tlds=((".ca", 0.6), (".com", 0.4)),
        suffixes=(("Inc.", 0.6), ("Ltd.", 0.3), ("Corp.", 0.1)),
        cities=(
            _c("Toronto", "ON", "Ontario", "M#@ #@#", "416", 7),
            _c("Vancouver", "BC", "British Columbia", "V#@ #@#", "604", 7),
            _c("Montréal", "QC", "Quebec", "H#@ #@#", "514", 7, exonym="Montreal"),
            _c("Calgary", "AB", "Alberta", "T#@ #@#", "403", 7),
            _c("Ottawa", "ON", "Ontario", "K#@ #@#", "613", 7),
        ),
        mobile_prefixes=(), mobile_digits=0,
    ),
    Country(
        iso2="NL", iso3="NLD", weight=0.04, calling_code="31", trunk="0",
        names=(("Netherlands", 0.6), ("The Netherlands", 0.2), ("Nederland", 0.1), ("NL", 0.1)),
        provider_b_name="Netherlands", hubspot_name="Netherlands", locale="nl", currency="EUR",
        tlds=((".nl", 0.8), (".com", 0.2)),
        suffixes=(("B.V.", 0.85), ("N.V.", 0.15)),
        cities=(
            _c("Amsterdam", "NH", "Noord-Holland", "10## @@", "20", 7),
            _c("Rotterdam", "ZH", "Zuid-Holland", "30## @@", "10", 7),
            _c("Utrecht", "UT", "Utrecht", "35## @@", "30", 7),
            _c("Den Haag", "ZH", "Zuid-Holland", "25## @@", "70", 7, exonym="The Hague"),
            _c("Eindhoven", "NB", "Noord-Brabant", "56## @@", "40", 7),
        ),
        mobile_prefixes=("61", "62", "63", "64", "65", "68"), mobile_digits=7,
    ),
    Country(
        iso2="ES", iso3="ESP", weight=0.04, calling_code="34", trunk="",
        names=(("Spain", 0.7), ("España", 0.2), ("ES", 0.1)),
        provider_b_name="Spain", hubspot_name="Spain", locale="es", currency="EUR",
        tlds=((".es", 0.75), (".com", 0.25)),
        suffixes=(("S.L.", 0.6), ("S.A.", 0.4)),
        cities=(
            _c("Madrid", "MD", "Madrid", "280##", "91", 7),
            _c("Barcelona", "CT", "Cataluña", "080##", "93", 7),
            _c("Valencia", "VC", "Comunidad Valenciana", "460##", "96", 7),
            _c("Sevilla", "AN", "Andalucía", "410##", "95", 7, exonym="Seville"),
            _c("Bilbao", "PV", "País Vasco", "480##", "94", 7),
        ),
        mobile_prefixes=("6",), mobile_digits=8,
    ),
    Country(
        iso2="AU", iso3="AUS", weight=0.05, calling_code="61", trunk="0",
        names=(("Australia", 0.85), ("AU", 0.1), ("AUS", 0.05)),
        provider_b_name="Australia", hubspot_name="Australia", locale="en", currency="USD",
        tlds=((".com.au", 0.8), (".com", 0.2)),
        suffixes=(("Pty Ltd", 0.9), ("Ltd", 0.1)),
        cities=(
            _c("Sydney", "NSW", "New South Wales", "20##", "2", 8, "9"),
            _c("Melbourne", "VIC", "Victoria", "30##", "3", 8, "9"),
            _c("Brisbane", "QLD", "Queensland", "40##", "7", 8, "3"),
            _c("Perth", "WA", "Western Australia", "60##", "8", 8, "9"),
            _c("Adelaide", "SA", "South Australia", "50##", "8", 8, "8"),
        ),
        mobile_prefixes=("40", "41", "42", "43", "46"), mobile_digits=7,
    ),
    Country(
        iso2="IE", iso3="IRL", weight=0.03, calling_code="353", trunk="0",
        names=(("Ireland", 0.85), ("IE", 0.1), ("Republic of Ireland", 0.05)),
        provider_b_name="Ireland", hubspot_name="Ireland", locale="en", currency="EUR",
        tlds=((".ie", 0.6), (".com", 0.4)),
        suffixes=(("Limited", 0.4), ("Ltd", 0.4), ("DAC", 0.2)),
        cities=(
            _c("Dublin", "D", "County Dublin", "D0# @#@#|D1# @#@#", "1", 7),
            _c("Cork", "CO", "County Cork", "T12 @#@#|T23 @#@#", "21", 7),
            _c("Galway", "G", "County Galway", "H91 @#@#", "91", 6),
        ),
        mobile_prefixes=("83", "85", "86", "87"), mobile_digits=7,
    ),
)
# fmt: on


COUNTRY_BY_ISO2 = {c.iso2: c for c in COUNTRIES}

# Equivalent spellings of each canonical legal form (name-variant faults draw from these).
# fmt: off
SUFFIX_VARIANTS: dict[str, tuple[str, ...]] = {
    "Inc.": ("Inc", "Incorporated", "INC", ", Inc.", ", Inc"),
    "LLC": ("L.L.C.", "Llc", ", LLC", "Limited Liability Company"),
    "Corp.": ("Corp", "Corporation", "CORP", ", Corp."),
    "Ltd": ("Ltd.", "Limited", "LTD", "Ltd"),
    "Ltd.": ("Ltd", "Limited", "LTD."),
    "Limited": ("Ltd", "Ltd.", "LIMITED"),
    "PLC": ("plc", "P.L.C.", "Public Limited Company"),
    "LLP": ("L.L.P.", "Llp"),
    "GmbH": ("Gmbh", "G.m.b.H.", "GMBH", "mbH"),
    "AG": ("A.G.", "Aktiengesellschaft"),
    "GmbH & Co. KG": ("GmbH & Co KG", "GmbH u. Co. KG", "GmbH&Co.KG"),
    "SAS": ("S.A.S.", "Sas"),
    "S.A.": ("SA", "S.A", "S. A.", "Sociedad Anónima"),
    "SARL": ("S.A.R.L.", "Sàrl", "Sarl"),
    "B.V.": ("BV", "B.V", "Bv"),
    "N.V.": ("NV", "N.V"),
    "S.L.": ("SL", "S.L", "Sociedad Limitada"),
    "Pty Ltd": ("Pty. Ltd.", "PTY LTD", "Proprietary Limited", "Pty. Ltd"),
    "DAC": ("D.A.C.", "Designated Activity Company"),
}
# fmt: on


@dataclass(frozen=True)
class Industry:
    """One industry, expressed in every source's own vocabulary.

    ``sector`` (the NAICS 2022 sector code, e.g. ``"51"`` or ``"31-33"``) is the truth's single
    code set; ``naics`` are 6-digit codes inside that sector (provider A); the rest are the
    Salesforce picklist value, the HubSpot enum, and providers B and C free text.
    """

    key: str
    sector: str
    naics: tuple[str, ...]
    salesforce: str
    hubspot: str
    provider_b: str
    provider_c: str
    revenue_per_employee: int
    weight: float
    descriptors: tuple[str, ...]  # company-name words that suggest this industry


# fmt: off
INDUSTRIES: tuple[Industry, ...] = (
    Industry("software", "51", ("513210", "518210"), "Technology", "COMPUTER_SOFTWARE",
             "Software & IT Services", "Tech / Software", 260_000, 0.16,
             ("Software", "Labs", "Digital", "Analytics", "Technologies")),
    Industry("it_services", "54", ("541511", "541512"), "Consulting",
             "INFORMATION_TECHNOLOGY_AND_SERVICES", "IT Consulting", "IT Services", 170_000, 0.09,
             ("Systems", "Solutions", "Technologies")),
    Industry("consulting", "54", ("541611", "541618"), "Consulting", "MANAGEMENT_CONSULTING",
             "Business Consulting", "Professional Services", 190_000, 0.06,
             ("Consulting", "Partners", "Advisors")),
    Industry("banking", "52", ("522110", "522130"), "Banking", "BANKING", "Banking", "Finance",
             420_000, 0.04, ("Bank", "Capital")),
    Industry("financial_services", "52", ("523150", "523940"), "Finance", "FINANCIAL_SERVICES",
             "Financial Services", "Fin. Services", 380_000, 0.06, ("Capital", "Ventures", "Holdings")),
    Industry("insurance", "52", ("524126", "524210"), "Insurance", "INSURANCE", "Insurance",
             "Insurance", 350_000, 0.04, ("Insurance", "Assurance")),
    Industry("healthcare", "62", ("622110", "621111"), "Healthcare", "HOSPITAL_HEALTH_CARE",
             "Healthcare Providers", "Health Care", 120_000, 0.07, ("Health", "Care", "Medical")),
    Industry("pharma", "31-33", ("325412", "325414"), "Biotechnology", "PHARMACEUTICALS",
             "Pharmaceuticals & Biotech", "Life Sciences", 450_000, 0.04,
             ("Therapeutics", "Biosciences", "Pharma")),
    Industry("machinery", "31-33", ("333249", "332710"), "Machinery", "MACHINERY",
             "Industrial Machinery", "Manufacturing", 230_000, 0.07, ("Industries", "Engineering", "Works")),
    Industry("food", "31-33", ("311812", "311421"), "Food & Beverage", "FOOD_PRODUCTION",
             "Food & Beverage", "Consumer Goods", 210_000, 0.04, ("Foods", "Kitchen", "Farms")),
    Industry("retail", "44-45", ("455110", "459110"), "Retail", "RETAIL", "Retail",
             "Retail & Consumer", 160_000, 0.07, ("Stores", "Outfitters", "Market")),
    Industry("logistics", "48-49", ("484121", "493110"), "Transportation", "LOGISTICS_AND_SUPPLY_CHAIN",
             "Transportation & Logistics", "Logistics", 150_000, 0.05, ("Logistics", "Freight", "Transport")),
    Industry("telecom", "51", ("517111", "517112"), "Telecommunications", "TELECOMMUNICATIONS",
             "Telecommunications", "Telecom", 400_000, 0.03, ("Networks", "Telecom", "Communications")),
    Industry("energy", "22", ("221122", "221114"), "Energy", "UTILITIES", "Energy & Utilities",
             "Energy", 600_000, 0.03, ("Energy", "Power", "Solar")),
    Industry("construction", "23", ("236220", "238210"), "Construction", "CONSTRUCTION",
             "Construction", "Construction & Real Estate", 250_000, 0.04, ("Builders", "Construction")),
    Industry("education", "61", ("611310", "611430"), "Education", "EDUCATION_MANAGEMENT",
             "Education", "Education", 110_000, 0.03, ("Learning", "Academy", "Education")),
    Industry("media", "51", ("516210", "512110"), "Media", "MEDIA_PRODUCTION",
             "Media & Entertainment", "Media", 300_000, 0.03, ("Media", "Studios", "Publishing")),
    Industry("hospitality", "72", ("721110", "722511"), "Hospitality", "HOSPITALITY", "Hospitality",
             "Travel & Leisure", 80_000, 0.02, ("Hotels", "Hospitality", "Restaurants")),
    Industry("real_estate", "53", ("531120", "531210"), "Other", "REAL_ESTATE", "Real Estate",
             "Construction & Real Estate", 320_000, 0.02, ("Properties", "Realty", "Estates")),
    Industry("nonprofit", "81", ("813211", "813410"), "Not For Profit",
             "NONPROFIT_ORGANIZATION_MANAGEMENT", "Non-Profit", "Non-profit", 70_000, 0.01,
             ("Foundation", "Alliance")),
)
# fmt: on


# Company name parts. A company's base name is "<A><b> <D>" or "<A> <B> <D>" (plus a region word
# for indices beyond the first full cycle), decoded from a bijective scramble of its index, so
# names are unique for realistic scales without any shared state.
# fmt: off
NAME_A: tuple[str, ...] = (
    "North", "South", "East", "West", "Blue", "Red", "Green", "Silver", "Golden", "Iron", "Stone",
    "Bright", "Clear", "Swift", "Ever", "High", "Pine", "Oak", "Cedar", "Maple", "Star", "Sun",
    "Moon", "Nova", "Apex", "Summit", "Vertex", "Prime", "Alpha", "Delta", "Omega", "Quantum",
    "Crystal", "Harbor", "Lake", "River", "Ocean", "Bay", "Cloud", "Sky", "Storm", "Thunder",
    "Fire", "Frost", "Snow", "Rain", "Wind", "Wave", "Eagle", "Falcon", "Hawk", "Fox", "Wolf",
    "Bear", "Lion", "Tiger", "Lynx", "Raven", "Crown", "Royal", "Noble", "True", "Bold", "Keen",
    "Agile", "Nimble", "Rapid", "Sterling", "Pure", "Vivid", "Lumen", "Aero", "Astro", "Terra",
    "Aqua", "Geo", "Helio", "Hydro", "Neo", "Nexa", "Opti", "Pro", "Uni", "Versa", "Zen", "Arc",
    "Axis", "Core", "Echo", "Flux", "Grid", "Halo", "Ion", "Jet", "Kite", "Loop", "Mesa", "Orbit",
    "Pulse", "Quest", "Ridge", "Sage", "Titan", "Ultra", "Vista", "Wren", "Yarrow", "Zephyr",
    "Amber", "Birch", "Cobalt", "Dune", "Ember", "Fern", "Granite", "Hazel", "Indigo", "Jade",
    "Onyx", "Pearl", "Quartz", "Ruby", "Slate",
)
NAME_B: tuple[str, ...] = (
    "wind", "wave", "bridge", "field", "point", "gate", "stone", "light", "path", "line", "works",
    "ridge", "well", "view", "core", "peak", "rock", "brook", "crest", "way", "forge", "mark",
    "spring", "haven", "port", "land", "wood", "shore", "stream", "star", "bay", "dale", "ford",
    "hill", "mont", "side", "tide", "vale", "wing", "scape", "sight", "base", "leaf", "flow",
    "ware", "wise", "craft", "loop", "shift", "span", "track", "trail", "tower", "vault", "yard",
    "beam", "bloom", "bolt", "cove", "glen",
)
NAME_D_GENERIC: tuple[str, ...] = (
    "Systems", "Solutions", "Group", "Partners", "Labs", "Works", "Industries", "Technologies",
    "Holdings", "Ventures", "Consulting", "Analytics", "Logistics", "Health", "Capital", "Media",
    "Energy", "Foods", "Networks", "Dynamics", "Software", "Services", "Global", "Digital",
)
NAME_REGION: tuple[str, ...] = (
    "Pacific", "Atlantic", "Midwest", "Northern", "Southern", "Coastal", "Continental", "Alpine",
    "Metro", "Central", "Western", "Eastern", "Highland", "Lowland", "Harbour", "Summit",
    "International", "Worldwide", "Europe", "Americas", "Nordic", "Iberia", "Benelux", "Celtic",
    "Rhine", "Thames", "Hudson", "Sierra", "Prairie",
)

FIRST_NAMES: dict[str, tuple[str, ...]] = {
    "en": (
        "James", "Mary", "John", "Patricia", "Robert", "Jennifer", "Michael", "Linda", "William",
        "Elizabeth", "David", "Barbara", "Richard", "Susan", "Joseph", "Jessica", "Thomas", "Sarah",
        "Charles", "Karen", "Christopher", "Nancy", "Daniel", "Lisa", "Matthew", "Betty", "Anthony",
        "Margaret", "Mark", "Sandra", "Donald", "Ashley", "Steven", "Kimberly", "Paul", "Emily",
        "Andrew", "Donna", "Joshua", "Michelle", "Kenneth", "Carol", "Kevin", "Amanda", "Brian",
        "Melissa", "George", "Deborah", "Timothy", "Stephanie", "Ronald", "Rebecca", "Jason",
        "Laura", "Ryan", "Sharon", "Jacob", "Cynthia", "Gary", "Kathleen", "Oliver", "Amelia",
        "Harry", "Olivia", "Jack", "Isla", "Noah", "Ava", "Liam", "Sophie", "Ethan", "Grace",
        "Priya", "Raj", "Wei", "Mei", "Carlos", "Ana", "Aisha", "Omar", "Siobhan", "Sean",
    ),
    "de": (
        "Lukas", "Anna", "Leon", "Lea", "Finn", "Hannah", "Jonas", "Lena", "Paul", "Laura",
        "Maximilian", "Julia", "Felix", "Sophie", "Tim", "Sarah", "Jan", "Lisa", "Niklas", "Katharina",
        "Stefan", "Sabine", "Thomas", "Petra", "Michael", "Claudia", "Andreas", "Susanne", "Markus",
        "Nicole", "Jürgen", "Birgit", "Uwe", "Anja", "Jörg", "Kerstin", "Matthias", "Stefanie",
        "Christian", "Daniela", "Sebastian", "Melanie", "Tobias", "Franziska", "Florian", "Jana",
        "Björn", "Sören", "Günter", "Ursula",
    ),
    "fr": (
        "Jean", "Marie", "Pierre", "Nathalie", "Michel", "Isabelle", "Philippe", "Sylvie", "Alain",
        "Catherine", "Nicolas", "Sophie", "François", "Céline", "Julien", "Aurélie", "Sébastien",
        "Camille", "Thomas", "Julie", "Antoine", "Émilie", "Hugo", "Léa", "Louis", "Chloé", "Lucas",
        "Manon", "Mathieu", "Hélène", "Benoît", "Élodie", "Jérôme", "Cécile", "Stéphane", "Valérie",
        "Olivier", "Christine", "Laurent", "Sandrine",
    ),
    "nl": (
        "Daan", "Emma", "Sem", "Julia", "Lucas", "Mila", "Levi", "Tess", "Finn", "Sophie", "Jan",
        "Anna", "Pieter", "Sanne", "Bram", "Lotte", "Thijs", "Eva", "Ruben", "Fleur", "Joost",
        "Marieke", "Wouter", "Ingrid", "Koen", "Femke", "Sander", "Lieke", "Maarten", "Anouk",
        "Gerrit", "Willemijn", "Hendrik", "Annelies",
    ),
    "es": (
        "Antonio", "María", "José", "Carmen", "Manuel", "Ana", "Francisco", "Isabel", "David",
        "Laura", "Juan", "Cristina", "Javier", "Marta", "Daniel", "Lucía", "Carlos", "Elena",
        "Miguel", "Pilar", "Alejandro", "Raquel", "Rafael", "Sara", "Pablo", "Paula", "Sergio",
        "Rocío", "Fernando", "Beatriz", "Jorge", "Nuria", "Álvaro", "Inés", "Andrés", "Sofía",
    ),
}

LAST_NAMES: dict[str, tuple[str, ...]] = {
    "en": (
        "Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez",
        "Martinez", "Hernandez", "Lopez", "Gonzalez", "Wilson", "Anderson", "Thomas", "Taylor",
        "Moore", "Jackson", "Martin", "Lee", "Perez", "Thompson", "White", "Harris", "Sanchez",
        "Clark", "Ramirez", "Lewis", "Robinson", "Walker", "Young", "Allen", "King", "Wright",
        "Scott", "Torres", "Nguyen", "Hill", "Flores", "Green", "Adams", "Nelson", "Baker", "Hall",
        "Rivera", "Campbell", "Mitchell", "Carter", "Roberts", "Patel", "Shah", "Kim", "Chen",
        "Wang", "O'Brien", "O'Connor", "Murphy", "Kelly", "Walsh", "Byrne", "Evans", "Hughes",
        "Edwards", "Cooper", "Ward", "Morgan", "Bell", "Murray", "Stewart", "MacDonald",
        "Thomson", "Reid", "Fraser", "Cunningham", "Fitzgerald", "Singh", "Kaur", "Cohen",
    ),
    "de": (
        "Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker", "Schulz",
        "Hoffmann", "Schäfer", "Koch", "Bauer", "Richter", "Klein", "Wolf", "Schröder", "Neumann",
        "Schwarz", "Zimmermann", "Braun", "Krüger", "Hofmann", "Hartmann", "Lange", "Schmitt",
        "Werner", "Schmitz", "Krause", "Meier", "Lehmann", "Schmid", "Schulze", "Maier", "Köhler",
        "Herrmann", "König", "Walter", "Mayer", "Huber", "Kaiser", "Fuchs", "Peters", "Lang",
        "Scholz", "Möller", "Weiß", "Jung", "Hahn", "Vogel",
    ),
    "fr": (
        "Martin", "Bernard", "Thomas", "Petit", "Robert", "Richard", "Durand", "Dubois", "Moreau",
        "Laurent", "Simon", "Michel", "Lefèvre", "Leroy", "Roux", "David", "Bertrand", "Morel",
        "Fournier", "Girard", "Bonnet", "Dupont", "Lambert", "Fontaine", "Rousseau", "Vincent",
        "Muller", "Lefebvre", "Faure", "André", "Mercier", "Blanc", "Guérin", "Boyer", "Garnier",
        "Chevalier", "François", "Legrand", "Gauthier", "Garcia",
    ),
    "nl": (
        "de Jong", "Jansen", "de Vries", "van den Berg", "van Dijk", "Bakker", "Janssen", "Visser",
        "Smit", "Meijer", "de Boer", "Mulder", "de Groot", "Bos", "Vos", "Peters", "Hendriks",
        "van Leeuwen", "Dekker", "Brouwer", "de Wit", "Dijkstra", "Smits", "de Graaf", "van der Meer",
        "van der Linden", "Kok", "Jacobs", "de Haan", "Vermeulen",
    ),
    "es": (
        "García", "Rodríguez", "González", "Fernández", "López", "Martínez", "Sánchez", "Pérez",
        "Gómez", "Martín", "Jiménez", "Ruiz", "Hernández", "Díaz", "Moreno", "Muñoz", "Álvarez",
        "Romero", "Alonso", "Gutiérrez", "Navarro", "Torres", "Domínguez", "Vázquez", "Ramos",
        "Gil", "Ramírez", "Serrano", "Blanco", "Molina",
    ),
}

STREETS: dict[str, tuple[str, ...]] = {
    "en": (
        "Main", "Oak", "Maple", "Cedar", "Pine", "Elm", "Washington", "Lake", "Hill", "Park",
        "Market", "Mission", "Broadway", "Madison", "Jefferson", "Franklin", "Church", "High",
        "King", "Queen", "Victoria", "Mill", "Bridge", "Station", "River", "Harbor", "Union",
        "Commerce", "Technology", "Innovation",
    ),
    "de": (
        "Haupt", "Bahnhof", "Schul", "Garten", "Dorf", "Berg", "Wald", "Linden", "Kirch", "Friedrich",
        "Goethe", "Schiller", "Mozart", "Industrie", "Wiesen", "Rosen", "Birken", "Kaiser", "Markt",
        "Ring",
    ),
    "fr": (
        "de la République", "Victor Hugo", "de la Paix", "Jean Jaurès", "du Général de Gaulle",
        "Pasteur", "de Rivoli", "Saint-Honoré", "des Lilas", "de la Gare", "Voltaire", "Gambetta",
        "du Moulin", "Émile Zola", "de Verdun",
    ),
    "nl": (
        "Keizers", "Heren", "Prinsen", "Dam", "Kerk", "Molen", "Haven", "Stations", "Markt",
        "Linden", "Beuken", "Eiken", "Wilhelmina", "Oranje", "Nieuwe",
    ),
    "es": (
        "Mayor", "de Alcalá", "Gran Vía", "de Serrano", "del Prado", "de la Castellana", "Real",
        "de Goya", "del Sol", "de San Vicente", "de Colón", "de la Paz", "Nueva", "del Mar",
    ),
}
STREET_KINDS_EN: tuple[str, ...] = ("St", "Street", "Ave", "Avenue", "Blvd", "Rd", "Road", "Dr", "Way", "Lane")

TITLES: tuple[tuple[str, float], ...] = (
    ("CEO", 0.03), ("CFO", 0.02), ("CTO", 0.02), ("COO", 0.01), ("CIO", 0.01),
    ("VP of Sales", 0.03), ("VP Marketing", 0.02), ("VP Engineering", 0.02), ("VP Finance", 0.01),
    ("Head of Procurement", 0.03), ("Head of IT", 0.03), ("Head of Operations", 0.02),
    ("Director of Sales", 0.04), ("Director of Marketing", 0.03), ("Director of Engineering", 0.03),
    ("IT Director", 0.03), ("Finance Director", 0.02), ("HR Director", 0.02),
    ("Sales Manager", 0.05), ("Marketing Manager", 0.05), ("Product Manager", 0.05),
    ("Project Manager", 0.04), ("Operations Manager", 0.04), ("Procurement Manager", 0.04),
    ("IT Manager", 0.04), ("Account Manager", 0.04), ("Office Manager", 0.02),
    ("Software Engineer", 0.04), ("Data Analyst", 0.03), ("Business Analyst", 0.03),
    ("Systems Administrator", 0.02), ("Controller", 0.02), ("Buyer", 0.02),
    ("Marketing Coordinator", 0.02), ("Sales Representative", 0.03), ("Consultant", 0.02),
    ("Data Engineer", 0.02), ("Solutions Architect", 0.02),
)

# Salesforce standard picklists.
LEAD_SOURCES: tuple[tuple[str, float], ...] = (
    ("Web", 0.3), ("Phone Inquiry", 0.1), ("Partner Referral", 0.1), ("Purchased List", 0.1),
    ("Trade Show", 0.1), ("Webinar", 0.12), ("Employee Referral", 0.05), ("Advertisement", 0.08),
    ("Other", 0.05),
)
LEAD_STATUS_OPEN: tuple[str, ...] = ("Open - Not Contacted", "Working - Contacted")
LEAD_STATUS_CLOSED_NOT_CONVERTED = "Closed - Not Converted"
LEAD_STATUS_CONVERTED = "Closed - Converted"
ACCOUNT_SOURCES: tuple[str, ...] = ("Web", "Phone Inquiry", "Partner Referral", "Purchased List", "Other")

# (StageName, Probability, IsClosed, IsWon), in pipeline order.
STAGES: tuple[tuple[str, int, bool, bool], ...] = (
    ("Prospecting", 10, False, False),
    ("Qualification", 10, False, False),
    ("Needs Analysis", 20, False, False),
    ("Value Proposition", 50, False, False),
    ("Id. Decision Makers", 60, False, False),
    ("Perception Analysis", 70, False, False),
    ("Proposal/Price Quote", 75, False, False),
    ("Negotiation/Review", 90, False, False),
    ("Closed Won", 100, True, True),
    ("Closed Lost", 0, True, False),
)
STAGE_WON = 8
STAGE_LOST = 9
OPEN_STAGES = 8
OPP_TYPES: tuple[tuple[str, float], ...] = (
    ("New Customer", 0.45), ("Existing Customer - Upgrade", 0.3),
    ("Existing Customer - Replacement", 0.1), ("Existing Customer - Downgrade", 0.05), ("", 0.1),
)
OPP_PRODUCTS: tuple[str, ...] = (
    "Platform Licence", "Enterprise Subscription", "Renewal", "Expansion", "Professional Services",
    "Pilot", "Support Upgrade", "Data Add-on", "Seats", "Migration Project",
)

HUBSPOT_LIFECYCLE: tuple[str, ...] = (
    "subscriber", "lead", "marketingqualifiedlead", "salesqualifiedlead", "opportunity",
    "customer", "evangelist", "other",
)
HUBSPOT_LEAD_STATUS: tuple[str, ...] = (
    "NEW", "OPEN", "IN_PROGRESS", "OPEN_DEAL", "UNQUALIFIED", "ATTEMPTED_TO_CONTACT", "CONNECTED",
    "BAD_TIMING",
)

# (low, high) employee buckets; None high means open-ended.
EMPLOYEE_BUCKETS: tuple[tuple[int, int | None], ...] = (
    (1, 10), (11, 50), (51, 200), (201, 500), (501, 1000), (1001, 5000), (5001, 10000), (10001, None),
)
# fmt: on


PERSONAL_EMAIL_DOMAINS: tuple[str, ...] = (
    "gmail.com",
    "outlook.com",
    "yahoo.com",
    "hotmail.com",
    "icloud.com",
)
