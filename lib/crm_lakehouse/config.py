"""Configuration: ``conf/base.yaml`` plus one overlay per environment, parsed once.

The YAML is deep-merged (overlay wins), then converted into frozen dataclasses. Validation
happens before Spark starts and reports every problem together, each with the file and the
dotted key that caused it: unknown keys, wrong types and values outside a closed vocabulary.
"""

from __future__ import annotations

import dataclasses
import enum
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from crm_lakehouse.errors import ConfigError

DEFAULT_CONF_DIR = Path("conf")
DEFAULT_ENV = "local"


class DeltaAdapterKind(enum.StrEnum):
    AUTO = "auto"
    DELTA_RS = "delta_rs"
    DELTA_SPARK = "delta_spark"


class Step(enum.StrEnum):
    BRONZE = "bronze"
    SILVER = "silver"
    GOLD = "gold"


@dataclass(frozen=True)
class Paths:
    landing: Path
    lake: Path
    reports: Path
    contracts: Path


@dataclass(frozen=True)
class SparkSettings:
    app_name: str
    master: str | None
    shuffle_partitions: int
    log_level: str
    conf: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class DeltaSettings:
    adapter: DeltaAdapterKind
    target_file_rows: int


@dataclass(frozen=True)
class FaultRates:
    """Rates of injected faults in generated data (share of records affected)."""

    name_variant: float
    domain_variant: float
    email_variant: float
    typo: float
    missing_field: float
    provider_conflict: float
    stale_provider: float
    malformed_row: float
    invalid_utf8: float
    duplicate_file: bool
    late_update: float


@dataclass(frozen=True)
class GeneratorSettings:
    scale: int
    seed: int
    date: str
    faults: FaultRates


@dataclass(frozen=True)
class PipelineSettings:
    steps: tuple[Step, ...]


@dataclass(frozen=True)
class Settings:
    env: str
    paths: Paths
    spark: SparkSettings
    delta: DeltaSettings
    generator: GeneratorSettings
    pipeline: PipelineSettings
    rules_dir: Path  # <conf-dir>/rules: matching, survivorship, industries, gold rules

    def with_paths(self, **changes: Path) -> Settings:
        """A copy with some paths replaced (used by tests and the CLI's --lake/--landing)."""
        return dataclasses.replace(self, paths=dataclasses.replace(self.paths, **changes))


def load_settings(
    env: str = DEFAULT_ENV,
    conf_dir: Path | str = DEFAULT_CONF_DIR,
    overrides: Mapping[str, Any] | None = None,
) -> Settings:
    """Read ``base.yaml`` and ``<env>.yaml`` from ``conf_dir`` into :class:`Settings`.

    ``overrides`` is a nested mapping applied last (e.g. from command-line flags).
    Raises :class:`ConfigError` listing every problem found.
    """
    conf_dir = Path(conf_dir)
    base_file = conf_dir / "base.yaml"
    env_file = conf_dir / f"{env}.yaml"
    problems: list[str] = []
    if not env_file.is_file():
        known = sorted(p.stem for p in conf_dir.glob("*.yaml") if p.stem != "base")
        raise ConfigError(f"--env {env!r}: no overlay {env_file} (known environments: {known})")
    merged: dict[str, Any] = {}
    origin: dict[str, str] = {}
    for path in (base_file, env_file):
        _deep_merge(merged, _read_yaml(path, problems), origin, str(path), "")
    if overrides:
        _deep_merge(merged, dict(overrides), origin, "command line", "")
    if problems:
        raise ConfigError(problems)
    merged["env"] = env
    origin["env"] = "--env"
    merged["rules_dir"] = str(conf_dir / "rules")
    origin["rules_dir"] = "--conf-dir"
    settings = _build(Settings, merged, "", origin, problems)
    if problems:
        raise ConfigError(problems)
    return typing.cast(Settings, settings)


_SAFE_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load_yaml(text: str) -> Any:
    """``yaml.safe_load`` through libyaml's C loader when PyYAML has it (the same safe subset,
    about ten times faster: the contracts alone took seconds to parse in pure Python at the
    start of every run)."""
    return yaml.load(text, Loader=_SAFE_LOADER)


def _read_yaml(path: Path, problems: list[str]) -> dict[str, Any]:
    try:
        data = load_yaml(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        problems.append(f"{path}: file not found")
        return {}
    except yaml.YAMLError as exc:
        problems.append(f"{path}: not valid YAML: {exc}")
        return {}
    if data is None:
        return {}
    if not isinstance(data, dict):
        problems.append(f"{path}: expected a mapping at the top level, found {type(data).__name__}")
        return {}
    return data


def _deep_merge(
    into: dict[str, Any], new: Mapping[str, Any], origin: dict[str, str], source: str, prefix: str
) -> None:
    for key, value in new.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, Mapping) and isinstance(into.get(key), dict) and key != "conf":
            _deep_merge(into[key], value, origin, source, dotted + ".")
        elif isinstance(value, Mapping) and isinstance(into.get(key), dict):
            into[key] = {**into[key], **value}  # spark.conf: merge pass-through settings
            origin[dotted] = source
        else:
            into[key] = dict(value) if isinstance(value, Mapping) else value
            _record_origins(value, origin, source, dotted)


def _record_origins(value: Any, origin: dict[str, str], source: str, dotted: str) -> None:
    origin[dotted] = source
    if isinstance(value, Mapping):
        for k, v in value.items():
            _record_origins(v, origin, source, f"{dotted}.{k}")


def _where(origin: dict[str, str], dotted: str) -> str:
    parts = dotted.split(".")
    for i in range(len(parts), 0, -1):
        found = origin.get(".".join(parts[:i]))
        if found:
            return f"{found}: {dotted}"
    return dotted


def _build(cls: type, data: Any, prefix: str, origin: dict[str, str], problems: list[str]) -> Any:
    """Convert ``data`` into dataclass ``cls``, appending every problem to ``problems``."""
    if not isinstance(data, Mapping):
        problems.append(f"{_where(origin, prefix.rstrip('.'))}: expected a mapping, found {data!r}")
        return None
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    for key in data:
        if key not in fields:
            problems.append(
                f"{_where(origin, prefix + str(key))}: unknown key (allowed: {sorted(fields)})"
            )
    values: dict[str, Any] = {}
    for name, f in fields.items():
        dotted = prefix + name
        if name not in data:
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                problems.append(f"{dotted}: required key is missing")
            continue
        values[name] = _convert(hints[name], data[name], dotted, origin, problems)
    try:
        return cls(**values)
    except TypeError:  # a required key was missing; already reported above
        return None


def _convert(tp: Any, value: Any, dotted: str, origin: dict[str, str], problems: list[str]) -> Any:
    where = _where(origin, dotted)
    args = typing.get_args(tp)
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        (inner,) = [a for a in args if a is not type(None)]
        return _convert(inner, value, dotted, origin, problems)
    if dataclasses.is_dataclass(tp) and isinstance(tp, type):
        return _build(tp, value, dotted + ".", origin, problems)
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        try:
            return tp(value)
        except ValueError:
            allowed = [m.value for m in tp]
            problems.append(f"{where}: {value!r} is not one of {allowed}")
            return None
    if typing.get_origin(tp) is tuple:
        if not isinstance(value, list):
            problems.append(f"{where}: expected a list, found {type(value).__name__} {value!r}")
            return ()
        return tuple(
            _convert(args[0], v, f"{dotted}[{i}]", origin, problems) for i, v in enumerate(value)
        )
    if tp is Mapping[str, str] or typing.get_origin(tp) is Mapping:
        if not isinstance(value, Mapping):
            problems.append(f"{where}: expected a mapping, found {value!r}")
            return {}
        out = {}
        for k, v in value.items():
            if isinstance(v, bool | dict | list) or v is None:
                problems.append(f"{where}.{k}: expected a string or number, found {v!r}")
            out[str(k)] = str(v)
        return types.MappingProxyType(out)
    if tp is Path:
        if not isinstance(value, str) or not value:
            problems.append(f"{where}: expected a path string, found {value!r}")
            return Path(".")
        return Path(value)
    if tp is bool:
        if not isinstance(value, bool):
            problems.append(f"{where}: expected true or false, found {value!r}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            problems.append(f"{where}: expected an integer, found {value!r}")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            problems.append(f"{where}: expected a number, found {value!r}")
            return value
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            problems.append(f"{where}: expected a string, found {value!r}")
        return value
    raise TypeError(f"config type {tp!r} at {dotted} is not supported")  # programming error
