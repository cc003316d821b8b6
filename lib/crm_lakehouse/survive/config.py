"""Typed loader for ``conf/rules/survivorship.yaml``: per entity, per attribute, ordered strategies.

Same rules as the base configuration: unknown keys, wrong types and unknown strategies are
reported together, each with the file and the dotted key.
"""

from __future__ import annotations

import enum
import typing
from dataclasses import dataclass
from pathlib import Path

from crm_lakehouse.config import _build, _read_yaml
from crm_lakehouse.errors import ConfigError


class Strategy(enum.StrEnum):
    """How candidates for one golden value are ordered (first strategy first).

    ``source_priority``: the attribute's (or entity's) source order; unlisted sources last.
    ``most_recent``: newest ``as_of`` (providers) / ``modified_at`` (CRMs) first.
    ``most_complete``: the record with most non-null attributes first.
    ``most_frequent``: the value most records of the cluster agree on first.
    ``provider_trust``: source trust x the record's own confidence (1 when it has none).
    Remaining ties: source system, then source id, ascending (deterministic).
    """

    SOURCE_PRIORITY = "source_priority"
    MOST_RECENT = "most_recent"
    MOST_COMPLETE = "most_complete"
    MOST_FREQUENT = "most_frequent"
    PROVIDER_TRUST = "provider_trust"


@dataclass(frozen=True)
class SourceTrust:
    source: str
    trust: float


@dataclass(frozen=True)
class AttributeRule:
    """``tolerance``: relative spread (numbers) above which candidates count as disagreeing in
    ``provider_conflicts``; None means any difference. ``conflicts``: report this attribute."""

    name: str
    strategies: tuple[Strategy, ...]
    priority: tuple[str, ...] = ()
    tolerance: float | None = None
    conflicts: bool = False


@dataclass(frozen=True)
class EntitySurvivorship:
    priority: tuple[str, ...]
    trust: tuple[SourceTrust, ...]
    attributes: tuple[AttributeRule, ...]

    def attribute(self, name: str) -> AttributeRule:
        for a in self.attributes:
            if a.name == name:
                return a
        raise KeyError(name)

    def trust_of(self) -> dict[str, float]:
        return {t.source: t.trust for t in self.trust}


@dataclass(frozen=True)
class SurvivorshipConfig:
    company: EntitySurvivorship
    person: EntitySurvivorship


def load_survivorship(
    path: Path | str, columns: typing.Mapping[str, typing.Collection[str]] | None = None
) -> SurvivorshipConfig:
    """Read and validate ``survivorship.yaml``. ``columns`` (entity -> available attribute
    columns) adds a check that every declared attribute exists."""
    path = Path(path)
    problems: list[str] = []
    data = _read_yaml(path, problems)
    if problems:
        raise ConfigError(problems)
    origin = {str(k): str(path) for k in data}
    cfg = _build(SurvivorshipConfig, data, "", origin, problems)
    if cfg is not None and not problems:
        for entity in ("company", "person"):
            spec: EntitySurvivorship = getattr(cfg, entity)
            names = [a.name for a in spec.attributes]
            for dup in sorted({n for n in names if names.count(n) > 1}):
                problems.append(f"{path}: {entity}.attributes: {dup!r} declared twice")
            for i, a in enumerate(spec.attributes):
                if not a.strategies:
                    problems.append(f"{path}: {entity}.attributes[{i}].strategies: empty")
                if columns is not None and a.name not in columns.get(entity, ()):
                    problems.append(
                        f"{path}: {entity}.attributes[{i}].name: {a.name!r} is not a column "
                        f"(known: {sorted(columns.get(entity, ()))})"
                    )
                if a.tolerance is not None and a.tolerance < 0:
                    problems.append(f"{path}: {entity}.attributes[{i}].tolerance: must be >= 0")
    if problems or cfg is None:
        raise ConfigError(problems or [f"{path}: could not be read"])
    return typing.cast(SurvivorshipConfig, cfg)
