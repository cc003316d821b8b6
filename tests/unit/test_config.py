from __future__ import annotations

from pathlib import Path

import pytest

from crm_lakehouse.config import DeltaAdapterKind, Step, load_settings
from crm_lakehouse.errors import ConfigError

from ..conftest import CONF


@pytest.mark.parametrize("env", ["local", "cluster"])
def test_every_shipped_environment_loads(env: str) -> None:
    s = load_settings(env, CONF)
    assert s.env == env
    assert s.paths.lake == Path("lake")
    assert s.paths.landing == Path("landing")
    assert s.pipeline.steps == (Step.BRONZE, Step.SILVER, Step.GOLD)


def test_overlay_wins_and_conf_maps_merge() -> None:
    local = load_settings("local", CONF)
    cluster = load_settings("cluster", CONF)
    assert local.spark.master == "local[*]"
    assert local.delta.adapter is DeltaAdapterKind.DELTA_RS
    assert local.spark.conf["spark.ui.enabled"] == "false"
    assert cluster.spark.master is None
    assert cluster.delta.adapter is DeltaAdapterKind.DELTA_SPARK


def test_settings_are_frozen() -> None:
    s = load_settings("local", CONF)
    with pytest.raises(AttributeError):
        s.env = "prod"  # type: ignore[misc]
    with pytest.raises(TypeError):
        s.spark.conf["x"] = "y"  # type: ignore[index]


def _conf(tmp_path: Path, base: str, overlay: str = "") -> Path:
    (tmp_path / "base.yaml").write_text((CONF / "base.yaml").read_text() + base)
    (tmp_path / "dev.yaml").write_text(overlay)
    return tmp_path


def test_all_problems_reported_together_with_file_and_key(tmp_path: Path) -> None:
    conf = _conf(
        tmp_path,
        "",
        "spark:\n  shuffle_partitions: many\n  colour: blue\n"
        "delta:\n  adapter: parquet\ngenerator:\n  faults:\n    duplicate_file: 'yes'\n",
    )
    with pytest.raises(ConfigError) as err:
        load_settings("dev", conf)
    problems = err.value.problems
    overlay = str(conf / "dev.yaml")
    assert f"{overlay}: spark.shuffle_partitions: expected an integer, found 'many'" in problems
    assert any(p.startswith(f"{overlay}: spark.colour: unknown key") for p in problems)
    assert any(p.startswith(f"{overlay}: delta.adapter: 'parquet' is not one of") for p in problems)
    assert (
        f"{overlay}: generator.faults.duplicate_file: expected true or false, found 'yes'"
        in problems
    )
    assert len(problems) == 4


def test_unknown_top_level_key_names_base_file(tmp_path: Path) -> None:
    conf = _conf(tmp_path, "\nsecrets:\n  password: x\n")
    with pytest.raises(ConfigError, match=r"base\.yaml: secrets: unknown key"):
        load_settings("dev", conf)


def test_unknown_environment_lists_known_ones() -> None:
    with pytest.raises(ConfigError, match=r"no overlay .*prod\.yaml.*\['cluster', 'local'\]"):
        load_settings("prod", CONF)


def test_invalid_yaml_is_reported(tmp_path: Path) -> None:
    conf = _conf(tmp_path, "", "spark: [unclosed\n")
    with pytest.raises(ConfigError, match=r"dev\.yaml: not valid YAML"):
        load_settings("dev", conf)


def test_overrides_apply_last() -> None:
    s = load_settings("local", CONF, overrides={"paths": {"lake": "/tmp/x"}})
    assert s.paths.lake == Path("/tmp/x")
    with pytest.raises(ConfigError, match=r"command line: paths\.lake: expected a path string"):
        load_settings("local", CONF, overrides={"paths": {"lake": 3}})


def test_rules_come_from_the_chosen_conf_dir(tmp_path: Path) -> None:
    """``--conf-dir`` moves the matching, survivorship and Gold rules with the config, so a
    packaged or site config never silently reads the repository's rules."""
    from crm_lakehouse.gold.rules import load_gold_rules
    from crm_lakehouse.silver.resolution import load_rules

    conf = _conf(tmp_path, "")
    (conf / "rules").mkdir()
    for f in (CONF / "rules").glob("*.yaml"):
        text = f.read_text()
        if f.name == "gold.yaml":
            text = text.replace("won_revenue_window_months: 12", "won_revenue_window_months: 6")
        (conf / "rules" / f.name).write_text(text)
    settings = load_settings("dev", conf)
    assert settings.rules_dir == conf / "rules"
    assert load_gold_rules(settings.rules_dir / "gold.yaml").won_revenue_window_months == 6
    assert load_rules(settings.rules_dir).matching == load_rules(CONF / "rules").matching
