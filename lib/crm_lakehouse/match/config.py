"""Typed loaders for ``conf/rules/matching.yaml`` and ``conf/rules/industries.yaml``.

Parsed once into frozen dataclasses with the helpers of :mod:`crm_lakehouse.config`, so the
files follow the same rules as the base configuration: unknown keys, wrong types and values
outside a closed vocabulary (blocking keys, comparison features) are reported together, each
with the file and the dotted key.
"""

from __future__ import annotations

import typing
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

from crm_lakehouse.config import _build, _read_yaml
from crm_lakehouse.errors import ConfigError

COMPANY_FEATURES = frozenset({"domain", "phone", "name_key", "country", "geo"})
COMPANY_CONFLICTS = frozenset({"domain_conflict", "country_conflict"})
# Conflicts between the firm clusters of a pair's two records (see MatchRule.cluster_forbid).
COMPANY_CLUSTER_CONFLICTS = frozenset({"domain_conflict", "phone_conflict"})
COMPANY_BLOCKING = frozenset(
    {
        "domain",
        "phone",
        "name_key",
        "name_phonetic",
        "name_prefix",
        "name_head",
        "postal_code",
        "postal_initial",
    }
)
PERSON_FEATURES = frozenset({"email", "phone", "company", "last_name"})
PERSON_CONFLICTS = frozenset({"email_conflict", "company_conflict"})
PERSON_CLUSTER_CONFLICTS: frozenset[str] = frozenset()
PERSON_BLOCKING = frozenset({"email", "phone", "company_last_name", "company_first_name"})


@dataclass(frozen=True)
class MatchRule:
    """A pair matches by this rule when every ``require`` feature holds, no ``forbid``
    conflict holds and the name similarity reaches ``min_name_similarity``.

    ``cluster_forbid`` makes the rule a *weak* one: its link is also vetoed when the firm
    clusters of the two records (the components of the matches of the rules without
    ``cluster_forbid``) conflict, e.g. both carry domains and share none. Pairwise rules cannot
    see this: a similar name joins a record without a domain to one with a domain, and the
    chaining of connected components then merges two companies that each have their own.
    Weak rules come after every firm rule (checked), so a pair a firm rule accepts is never
    judged as weak.
    """

    name: str
    require: tuple[str, ...] = ()
    forbid: tuple[str, ...] = ()
    min_name_similarity: float = 0.0
    cluster_forbid: tuple[str, ...] = ()


@dataclass(frozen=True)
class CompanyWeights:
    """Score = min(1, name * Jaro-Winkler + sum of the weights of the features that hold)."""

    name: float
    domain: float
    phone: float
    geo: float
    country: float


@dataclass(frozen=True)
class PersonWeights:
    name: float
    email: float
    phone: float
    company: float


@dataclass(frozen=True)
class Guards:
    """Bounds that keep cost linear: blocks above ``max_block_size`` records give no pairs;
    clusters above ``max_cluster_size`` are left unmerged and reported; label propagation
    stops after ``max_iterations`` (reported when it had not converged)."""

    max_block_size: int
    max_cluster_size: int
    max_iterations: int


@dataclass(frozen=True)
class CompanyMatching:
    threshold: float
    guards: Guards
    blocking: tuple[str, ...]
    weights: CompanyWeights
    rules: tuple[MatchRule, ...]


@dataclass(frozen=True)
class PersonMatching:
    threshold: float
    guards: Guards
    blocking: tuple[str, ...]
    weights: PersonWeights
    rules: tuple[MatchRule, ...]


@dataclass(frozen=True)
class MatchingConfig:
    companies: CompanyMatching
    people: PersonMatching


@dataclass(frozen=True)
class _IndustryFile:
    labels: Mapping[str, str]


def _origin(path: Path, data: Mapping[str, typing.Any]) -> dict[str, str]:
    return {str(k): str(path) for k in data}


def _check_rules(
    where: str,
    rules: tuple[MatchRule, ...],
    features: frozenset[str],
    conflicts: frozenset[str],
    cluster_conflicts: frozenset[str],
    problems: list[str],
) -> None:
    if not rules:
        problems.append(f"{where}.rules: at least one rule is required")
    for i, rule in enumerate(rules):
        for f in rule.require:
            if f not in features:
                problems.append(
                    f"{where}.rules[{i}].require: {f!r} is not one of {sorted(features)}"
                )
        for f in rule.forbid:
            if f not in conflicts:
                problems.append(
                    f"{where}.rules[{i}].forbid: {f!r} is not one of {sorted(conflicts)}"
                )
        for f in rule.cluster_forbid:
            if f not in cluster_conflicts:
                problems.append(
                    f"{where}.rules[{i}].cluster_forbid: {f!r} is not one of "
                    f"{sorted(cluster_conflicts)}"
                )
        if not 0.0 <= rule.min_name_similarity <= 1.0:
            problems.append(f"{where}.rules[{i}].min_name_similarity: must be within 0..1")
    first_weak = next((i for i, rule in enumerate(rules) if rule.cluster_forbid), None)
    if first_weak is not None:
        late_firm = [rule.name for rule in rules[first_weak:] if not rule.cluster_forbid]
        if late_firm:
            problems.append(
                f"{where}.rules[{first_weak}]: a rule with cluster_forbid "
                f"({rules[first_weak].name!r}) must come after every rule without it; "
                f"found {late_firm} after it"
            )


def _check_common(
    where: str, threshold: float, guards: Guards, blocking: tuple[str, ...],
    allowed: frozenset[str], problems: list[str],
) -> None:  # fmt: skip
    if not 0.0 < threshold <= 1.0:
        problems.append(f"{where}.threshold: must be within (0, 1], found {threshold}")
    for b in blocking:
        if b not in allowed:
            problems.append(f"{where}.blocking: {b!r} is not one of {sorted(allowed)}")
    if not blocking:
        problems.append(f"{where}.blocking: at least one blocking key is required")
    for name in ("max_block_size", "max_cluster_size", "max_iterations"):
        value = getattr(guards, name)
        if isinstance(value, int) and value < 2:
            problems.append(f"{where}.guards.{name}: must be at least 2, found {value}")


def load_matching(path: Path | str) -> MatchingConfig:
    """Read and validate ``matching.yaml``; raise :class:`ConfigError` listing every problem."""
    path = Path(path)
    problems: list[str] = []
    data = _read_yaml(path, problems)
    if problems:
        raise ConfigError(problems)
    cfg = _build(MatchingConfig, data, "", _origin(path, data), problems)
    if cfg is not None and not problems:
        c, p = cfg.companies, cfg.people
        where = f"{path}: companies"
        _check_common(where, c.threshold, c.guards, c.blocking, COMPANY_BLOCKING, problems)
        _check_rules(
            where, c.rules, COMPANY_FEATURES, COMPANY_CONFLICTS, COMPANY_CLUSTER_CONFLICTS, problems
        )
        where = f"{path}: people"
        _check_common(where, p.threshold, p.guards, p.blocking, PERSON_BLOCKING, problems)
        _check_rules(
            where, p.rules, PERSON_FEATURES, PERSON_CONFLICTS, PERSON_CLUSTER_CONFLICTS, problems
        )
    if problems or cfg is None:
        raise ConfigError(problems or [f"{path}: could not be read"])
    return typing.cast(MatchingConfig, cfg)


def load_industries(path: Path | str) -> Mapping[str, str | None]:
    """Read ``industries.yaml``: label -> NAICS sector (null: known but ambiguous)."""
    path = Path(path)
    problems: list[str] = []
    data = _read_yaml(path, problems)
    if problems:
        raise ConfigError(problems)
    unknown = sorted(set(data) - {"labels"})
    for key in unknown:
        problems.append(f"{path}: {key}: unknown key (allowed: ['labels'])")
    labels = data.get("labels")
    if not isinstance(labels, Mapping):
        problems.append(f"{path}: labels: expected a mapping, found {labels!r}")
        raise ConfigError(problems)
    out: dict[str, str | None] = {}
    seen: dict[str, str] = {}
    for label, sector in labels.items():
        if sector is not None and not isinstance(sector, str):
            problems.append(f"{path}: labels.{label}: expected a sector string or null")
            continue
        key = "".join(ch for ch in str(label).lower() if ch.isalnum())
        if key in out and out[key] != sector:
            problems.append(
                f"{path}: labels.{label}: same key as {seen[key]!r} but a different sector"
            )
        out[key], seen[key] = sector, str(label)
    if problems:
        raise ConfigError(problems)
    return MappingProxyType(out)
