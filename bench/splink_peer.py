"""A peer for company resolution: Splink (DuckDB backend) on the same Silver company records.

Usage::

    .venv/bin/python bench/splink_peer.py --lake DIR --landing DIR --dates 2026-11-20[,...]
        [--threshold 0.5] [--u-max-pairs 1e7] [--rules-dir conf/rules] [--cold]

Both sides read the lake's ``silver.company_records`` and ``silver.firmographics`` and are scored
by the same :func:`crm_lakehouse.silver.quality.pairwise` against the generator's truth for
``dates`` (the dates the lake was built from). Prints a markdown table. The command runs each
side once untimed before the timed run (``--cold``: time the first run instead); the lake is
only read. Library use: :func:`compare` returns a :class:`PeerResult`, :func:`markdown` the table.

**Ours**: :func:`crm_lakehouse.silver.resolution.resolve_companies` with the rules of
``--rules-dir``, timed from reading the Delta tables (through the delta-rs port) to the company
xref being materialised (``localCheckpoint``); golden-record survivorship is not timed, since
Splink does none. Spark session start-up is not timed either (the session is passed in).

**Splink** (see :func:`splink_settings` and :func:`run_splink`), timed from reading the Delta
tables (DuckDB over delta-rs Arrow datasets, :class:`crm_lakehouse.query.LakeQuery`) to the
cluster of every record being fetched back as Arrow, training included. The setup is what a
data engineer would write from Splink's tutorials:

- input: the Silver columns already cleaned there (registrable domain, E.164 phone, ISO
  country), the name reduced to comparison words in SQL (lower case, accents and punctuation
  removed, legal form stripped with the project's list :data:`crm_lakehouse.normalise.
  LEGAL_SUFFIXES`, as our matcher does), city letters only, postcode upper case without spaces;
- blocking for prediction: exact domain, exact phone, exact compact name, first six name
  characters + country, country + postcode (the keys our matcher blocks on, less its Soundex
  key: DuckDB has no Soundex);
- comparisons: name (exact with term-frequency adjustment, Jaro-Winkler >= 0.95, Levenshtein
  <= 2 on the compact name, Jaro-Winkler >= 0.88 and >= 0.75), domain, phone, country and
  postcode exact, city exact / Jaro-Winkler >= 0.9;
- training: the prior from two deterministic rules (domain + name, phone + name; recall 0.6),
  u by random sampling (``--u-max-pairs``, seeded), m by expectation maximisation blocked on
  domain and then on the compact name (every comparison is estimated in one of the two);
- prediction over every blocked pair, clustering by connected components at match probability
  ``--threshold``. Default 0.5: a pair is linked when the model judges it more likely a match
  than not. 0.9 was the first pick; it cuts the pairs whose only evidence is an exact name and
  the same country (a CRM record without a domain against a provider record, which carries
  no phone or address): the model puts those at p ~ 0.75, and they are mostly true matches.
  0.5 is the choice more generous to the peer; the F1 at 0.9 and 0.99 is reported as well
  (clustered from the same predictions, untimed).

The Spark backend was tried too (Splink's similarity-UDF jar ships in the wheel, so it needs no
Maven): on 1,899 records it took 69 s against 2.8 s with DuckDB on this 2-core machine, so
DuckDB is the peer.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import splink
import splink.comparison_level_library as cll
import splink.comparison_library as cl
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from splink import DuckDBAPI, Linker, SettingsCreator, block_on

from crm_lakehouse.config import DeltaAdapterKind, load_settings
from crm_lakehouse.delta import open_port
from crm_lakehouse.errors import ConfigError, LakehouseError, TableNotFoundError
from crm_lakehouse.lake import Lake
from crm_lakehouse.normalise import LEGAL_SUFFIXES
from crm_lakehouse.query import LakeQuery
from crm_lakehouse.session import builder
from crm_lakehouse.silver import resolution as RES
from crm_lakehouse.silver.quality import COMPANY_ENTITIES, PairScores, pairwise, truth_records

ROOT = Path(__file__).resolve().parents[1]
BACKEND = "duckdb"
DEFAULT_THRESHOLD = 0.5
EXTRA_THRESHOLDS = (0.9, 0.99)
DEFAULT_U_MAX_PAIRS = 1e7
SEED = 42

_SUFFIX_RE = r"(\s+(" + "|".join(s.replace(" ", r"\s+") for s in LEGAL_SUFFIXES) + r"))+$"


def _sql_literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


# The Splink input: one row per company record of either Silver table, in comparable columns.
INPUT_SQL = f"""
WITH records AS (
    SELECT source_system, source_id, name, registrable_domain AS domain,
           phone_e164 AS phone, city, postal_code, country_code AS country
    FROM silver.company_records
    UNION ALL
    SELECT source_system, source_id, name, registrable_domain AS domain,
           NULL AS phone, NULL AS city, NULL AS postal_code, country_code AS country
    FROM silver.firmographics
), words AS (
    SELECT *, regexp_replace(trim(regexp_replace(regexp_replace(regexp_replace(
                  strip_accents(lower(name)), '\\.', '', 'g'), '[^a-z0-9]+', ' ', 'g'),
                  '\\s+', ' ', 'g')), '^the\\s+', '') AS plain
    FROM records
), stripped AS (
    SELECT *, trim(regexp_replace(' ' || plain, {_sql_literal(_SUFFIX_RE)}, '')) AS no_suffix
    FROM words
)
SELECT
    source_system || ':' || source_id AS unique_id,
    source_system,
    source_id,
    nullif(CASE WHEN no_suffix <> '' THEN no_suffix ELSE plain END, '') AS name_words,
    nullif(replace(CASE WHEN no_suffix <> '' THEN no_suffix ELSE plain END, ' ', ''), '')
        AS name_key,
    nullif(domain, '') AS domain,
    nullif(phone, '') AS phone,
    nullif(country, '') AS country,
    nullif(regexp_replace(strip_accents(lower(city)), '[^a-z]', '', 'g'), '') AS city_key,
    nullif(upper(regexp_replace(postal_code, '\\s', '', 'g')), '') AS postal_code
FROM stripped
"""


def splink_settings() -> SettingsCreator:
    """The Splink model: dedupe the union of both record tables (see the module docstring)."""
    name = cl.CustomComparison(
        [
            cll.NullLevel("name_key"),
            cll.ExactMatchLevel("name_key", term_frequency_adjustments=True),
            cll.JaroWinklerLevel("name_words", 0.95),
            cll.LevenshteinLevel("name_key", 2),
            cll.JaroWinklerLevel("name_words", 0.88),
            cll.JaroWinklerLevel("name_words", 0.75),
            cll.ElseLevel(),
        ],
        output_column_name="name",
    )
    return SettingsCreator(
        link_type="dedupe_only",
        unique_id_column_name="unique_id",
        blocking_rules_to_generate_predictions=[
            block_on("domain"),
            block_on("phone"),
            block_on("name_key"),
            block_on("substr(name_key, 1, 6)", "country"),
            block_on("country", "postal_code"),
        ],
        comparisons=[
            name,
            cl.ExactMatch("domain"),
            cl.ExactMatch("phone"),
            cl.ExactMatch("country"),
            cl.JaroWinklerAtThresholds("city_key", [0.9]),
            cl.ExactMatch("postal_code"),
        ],
        retain_intermediate_calculation_columns=False,
        retain_matching_columns=False,
    )


@dataclass(frozen=True)
class SplinkRun:
    """Splink's clusters as an xref (``source_system, source_id, company_id``) per threshold,
    the seconds to the first (timed) threshold's clusters, and the pairs it scored."""

    xrefs: dict[float, pa.Table]
    seconds: float
    records: int
    pairs_scored: int
    version: str
    training: list[str] = field(default_factory=list)


def run_splink(
    lake: Path,
    threshold: float = DEFAULT_THRESHOLD,
    *,
    extra_thresholds: Sequence[float] = EXTRA_THRESHOLDS,
    u_max_pairs: float = DEFAULT_U_MAX_PAIRS,
    seed: int = SEED,
) -> SplinkRun:
    """Read, train, predict and cluster with Splink's DuckDB backend; only ``threshold`` is timed."""
    t0 = time.perf_counter()
    with LakeQuery(Lake(lake)) as q:
        q.con.execute(f"CREATE TABLE splink_input AS {q.prepare(INPUT_SQL)}")
        db_api = DuckDBAPI(connection=q.con)
        linker = Linker(db_api.register("splink_input"), splink_settings(), log_level=logging.ERROR)
        t = linker.training
        t.estimate_probability_two_random_records_match(
            [block_on("domain", "name_key"), block_on("phone", "name_key")], recall=0.6
        )
        t.estimate_u_using_random_sampling(max_pairs=u_max_pairs, seed=seed)
        training = train_em(t)
        predictions = linker.inference.predict()
        xrefs: dict[float, pa.Table] = {}
        seconds = 0.0
        others = [p for p in extra_thresholds if p != threshold]
        for i, p in enumerate((threshold, *others)):
            clusters = linker.clustering.cluster_pairwise_predictions_at_threshold(
                predictions, threshold_match_probability=p
            )
            xrefs[p] = (
                clusters.as_duckdbpyrelation()
                .select("source_system, source_id, cluster_id AS company_id")
                .to_arrow_table()
            )
            if i == 0:
                seconds = time.perf_counter() - t0
        row = q.con.execute(f"SELECT count(*) FROM {predictions.physical_name}").fetchone()
        pairs = int(row[0]) if row else 0
        records_row = q.con.execute("SELECT count(*) FROM splink_input").fetchone()
        records = int(records_row[0]) if records_row else 0
    return SplinkRun(xrefs, seconds, records, pairs, splink.__version__, training)


# Expectation maximisation sessions, each with fallbacks (narrower blocks) for when Splink
# refuses a session: at 1M records, EM blocked on the name alone drove an m probability to
# exactly 0, which Splink 5 rejects ("m_probability value 0.0 is below the minimum").
EM_SESSIONS: tuple[tuple[tuple[str, ...], ...], ...] = (
    (("domain",),),
    (("name_key",), ("name_key", "country")),
)


def train_em(training: Any) -> list[str]:
    """Run the EM sessions; returns what each did (blocking used, or why it was skipped)."""
    done: list[str] = []
    for options in EM_SESSIONS:
        errors = []
        for columns in options:
            try:
                training.estimate_parameters_using_expectation_maximisation(block_on(*columns))
            except ValueError as exc:
                errors.append(f"{'+'.join(columns)}: {str(exc).splitlines()[0][:120]}")
                continue
            done.append(f"EM on {'+'.join(columns)}" + (f" (after {errors})" if errors else ""))
            break
        else:
            done.append(f"EM skipped: {errors}")
    return done


@dataclass(frozen=True)
class OursRun:
    xref: DataFrame
    seconds: float
    records: int
    candidate_pairs: int


def run_ours(spark: SparkSession, lake: Path, rules_dir: Path | None = None) -> OursRun:
    """Our company resolution from the Delta tables to a materialised xref, timed."""
    rules = RES.load_rules(rules_dir)  # parsed once and cached: not part of the timing
    port = open_port(spark, DeltaAdapterKind.DELTA_RS)
    where = Lake(lake)
    t0 = time.perf_counter()
    res = RES.resolve_companies(
        port.read(where.location(RES.COMPANY_RECORDS)),
        port.read(where.location(RES.FIRMOGRAPHICS)),
        rules,
    )
    xref = res.xref.select("source_system", "source_id", "company_id").localCheckpoint()
    seconds = time.perf_counter() - t0
    return OursRun(xref, seconds, xref.count(), int(res.metrics["companies.candidate_pairs"]))


@dataclass(frozen=True)
class PeerResult:
    """Both sides on the same input, scored by the same pairwise function."""

    records: int  # company records in the input (both Silver tables)
    backend: str
    splink_version: str
    threshold: float
    warm: bool  # each side ran once untimed before the timed run
    splink_seconds: float
    splink_records: int  # records Splink put in a cluster
    splink_clusters: int
    splink_pairs_scored: int
    splink_precision: float
    splink_recall: float
    splink_f1: float
    ours_seconds: float
    ours_records: int  # records in our xref
    ours_clusters: int
    ours_candidate_pairs: int
    ours_precision: float
    ours_recall: float
    ours_f1: float
    true_pairs: int
    splink_f1_at: dict[float, float] = field(default_factory=dict)  # untimed other thresholds
    splink_training: list[str] = field(default_factory=list)  # EM sessions as run


def check_inputs(lake: Path, landing: Path, dates: Sequence[str], threshold: float) -> None:
    """Fail early, before any engine starts, naming what is missing."""
    if not 0 < threshold < 1:
        raise ConfigError(f"--threshold must be a match probability in (0, 1); got {threshold}")
    where = Lake(lake)
    missing = [t for t in (RES.COMPANY_RECORDS, RES.FIRMOGRAPHICS) if t not in where.tables()]
    if missing:
        raise TableNotFoundError(
            f"lake {lake}: no Delta table {', '.join(missing)} at "
            f"{', '.join(str(where.location(t)) for t in missing)} (run Bronze + Silver first)"
        )
    if not dates:
        raise ConfigError("--dates: give the dates the lake was built from, e.g. 2026-11-20")
    truth_files = [landing / "_truth" / d / "source_records.csv" for d in dates]
    absent = [str(f) for f in truth_files if not f.is_file()]
    if absent:
        raise ConfigError(
            f"no generator truth {', '.join(absent)}: --landing must be the folder the lake's "
            "data was generated into, --dates the dates generated"
        )


def compare(
    spark: SparkSession,
    lake: Path,
    landing: Path,
    dates: Sequence[str],
    rules_dir: Path | None = None,
    *,
    threshold: float = DEFAULT_THRESHOLD,
    u_max_pairs: float = DEFAULT_U_MAX_PAIRS,
    warm_up: bool = False,
) -> PeerResult:
    """Run Splink and our company resolution on the lake's Silver company records and score
    both against the generator's truth for ``dates`` (those the lake was built from).

    ``warm_up``: run each side once untimed first, so neither timing includes first-use costs
    (JVM class loading and JIT for Spark, which cost ours about 20 s on a fresh session here;
    imports and first queries for DuckDB). Leave it off when the session has already worked,
    e.g. after running the pipeline.
    """
    check_inputs(lake, landing, dates, threshold)
    if warm_up:
        run_splink(lake, threshold, extra_thresholds=(), u_max_pairs=u_max_pairs)
        run_ours(spark, lake, rules_dir).xref.unpersist()
    peer = run_splink(lake, threshold, u_max_pairs=u_max_pairs)
    ours = run_ours(spark, lake, rules_dir)

    truth = (
        truth_records(spark, landing, dates)
        .where(F.col("entity").isin(*COMPANY_ENTITIES))
        .localCheckpoint()
    )
    ours_q = pairwise(ours.xref, truth, "company_id")
    scores: dict[float, PairScores] = {
        p: pairwise(spark.createDataFrame(x), truth, "company_id") for p, x in peer.xrefs.items()
    }
    s = scores[threshold]
    timed = peer.xrefs[threshold]
    return PeerResult(
        records=peer.records,
        backend=BACKEND,
        splink_version=peer.version,
        threshold=threshold,
        warm=warm_up,
        splink_seconds=peer.seconds,
        splink_records=timed.num_rows,
        splink_clusters=len(timed.column("company_id").unique()),
        splink_pairs_scored=peer.pairs_scored,
        splink_precision=s.precision,
        splink_recall=s.recall,
        splink_f1=s.f1,
        ours_seconds=ours.seconds,
        ours_records=ours.records,
        ours_clusters=ours.xref.select("company_id").distinct().count(),
        ours_candidate_pairs=ours.candidate_pairs,
        ours_precision=ours_q.precision,
        ours_recall=ours_q.recall,
        ours_f1=ours_q.f1,
        true_pairs=ours_q.true_pairs,
        splink_f1_at={p: q.f1 for p, q in scores.items() if p != threshold},
        splink_training=peer.training,
    )


def markdown(r: PeerResult) -> list[str]:
    """The side-by-side table, one line per markdown row."""
    peer = f"Splink {r.splink_version} ({r.backend}, p >= {r.threshold})"
    rows = [
        ("company records in / in clusters", f"{r.records} / {r.ours_records}",
         f"{r.records} / {r.splink_records}"),
        (f"time, read -> clusters (s, {'warm' if r.warm else 'cold'})",
         f"{r.ours_seconds:.1f}", f"{r.splink_seconds:.1f}"),
        ("pairs compared", f"{r.ours_candidate_pairs}", f"{r.splink_pairs_scored}"),
        ("clusters", f"{r.ours_clusters}", f"{r.splink_clusters}"),
        ("pairwise precision", f"{r.ours_precision:.4f}", f"{r.splink_precision:.4f}"),
        ("pairwise recall", f"{r.ours_recall:.4f}", f"{r.splink_recall:.4f}"),
        ("pairwise F1", f"{r.ours_f1:.4f}", f"{r.splink_f1:.4f}"),
    ]  # fmt: skip
    rows += [(f"F1 at p >= {p} (untimed)", "", f"{f1:.4f}") for p, f1 in r.splink_f1_at.items()]
    rows.append(("training", "", "; ".join(r.splink_training)))
    lines = [f"| figure | ours | {peer} |", "|---|---|---|"]
    lines += [f"| {a} | {b} | {c} |" for a, b, c in rows]
    accurate = r.ours_f1 >= r.splink_f1
    faster = r.ours_seconds < r.splink_seconds
    lines += [
        "",
        f"True pairs: {r.true_pairs}. Target: company resolution at least as accurate as Splink "
        f"({'met' if accurate else 'MISSED'}) and faster ({'met' if faster else 'MISSED'}).",
    ]
    return lines


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--lake", type=Path, required=True, help="a lake with the Silver tables")
    ap.add_argument("--landing", type=Path, required=True, help="its landing folder (_truth)")
    ap.add_argument("--dates", required=True, help="comma-separated dates the lake holds")
    ap.add_argument("--threshold", type=float, default=DEFAULT_THRESHOLD)
    ap.add_argument("--u-max-pairs", type=float, default=DEFAULT_U_MAX_PAIRS)
    ap.add_argument("--rules-dir", type=Path, default=ROOT / "conf" / "rules")
    ap.add_argument(
        "--cold", action="store_true", help="time the first run of each side (no warm-up run)"
    )
    ap.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    args = ap.parse_args(argv)
    dates = [d.strip() for d in args.dates.split(",") if d.strip()]

    try:
        check_inputs(args.lake, args.landing, dates, args.threshold)
    except LakehouseError as exc:
        print(f"splink_peer: {exc}", file=sys.stderr)
        return exc.exit_code
    settings = load_settings("local", ROOT / "conf")
    spark = builder(settings).getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    try:
        result = compare(
            spark,
            args.lake,
            args.landing,
            dates,
            args.rules_dir,
            threshold=args.threshold,
            u_max_pairs=args.u_max_pairs,
            warm_up=not args.cold,
        )
    except LakehouseError as exc:
        print(f"splink_peer: {exc}", file=sys.stderr)
        return exc.exit_code
    finally:
        spark.stop()
    for line in markdown(result):
        print(line)
    if args.json:
        figures = asdict(result)
        figures["splink_f1_at"] = {str(k): v for k, v in result.splink_f1_at.items()}
        args.json.write_text(json.dumps(figures, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
