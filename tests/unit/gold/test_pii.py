"""The PII key comes from the environment only, and Spark's keyed hash is real HMAC-SHA-256."""

from __future__ import annotations

import hashlib
import hmac
import re
from pathlib import Path

import pytest
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from crm_lakehouse.errors import ConfigError
from crm_lakehouse.gold.pii import KEY_ENV, KEY_FILE_ENV, PiiKey, hash_column, load_pii_key

VALUES = ["+14155550123", "jane.doe@example.com", "Zoë Ünïcode", ""]


def test_spark_hash_is_hmac_sha256_and_depends_on_the_key(spark: SparkSession) -> None:
    df = spark.createDataFrame([(v,) for v in VALUES] + [(None,)], "v string")
    key_a = PiiKey(b"a" * 20, "test")
    key_b = PiiKey(b"b" * 20, "test")
    long_key = PiiKey(b"k" * 100, "test")  # longer than a SHA-256 block: hashed first (RFC 2104)
    rows = df.select(
        "v",
        hash_column(F.col("v"), key_a).alias("a"),
        hash_column(F.col("v"), key_b).alias("b"),
        hash_column(F.col("v"), long_key).alias("long"),
    ).collect()
    for r in rows:
        if r["v"] is None:
            assert (r["a"], r["b"], r["long"]) == (None, None, None)
            continue
        expected = hmac.new(b"a" * 20, r["v"].encode(), hashlib.sha256).hexdigest()
        assert r["a"] == expected == key_a.digest(r["v"])
        assert r["long"] == hmac.new(b"k" * 100, r["v"].encode(), hashlib.sha256).hexdigest()
        assert re.fullmatch("[0-9a-f]{64}", r["b"]) and r["b"] != r["a"]


def test_key_from_the_variable_or_the_file(tmp_path: Path) -> None:
    assert load_pii_key({KEY_ENV: "x" * 16}).secret == b"x" * 16
    path = tmp_path / "pii.key"
    path.write_text("  file-key-0123456789abcdef\n", encoding="utf-8")
    from_file = load_pii_key({KEY_FILE_ENV: str(path)})
    assert from_file.secret == b"file-key-0123456789abcdef"
    assert "file-key" not in repr(from_file)
    # The variable wins over the file.
    assert load_pii_key({KEY_ENV: "y" * 16, KEY_FILE_ENV: str(path)}).secret == b"y" * 16
    assert from_file.key_id != load_pii_key({KEY_ENV: "y" * 16}).key_id


def test_missing_short_or_unreadable_keys_are_config_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as err:
        load_pii_key({})
    assert KEY_ENV in str(err.value) and KEY_FILE_ENV in str(err.value)
    with pytest.raises(ConfigError, match="at least 16 are required"):
        load_pii_key({KEY_ENV: "short"})
    with pytest.raises(ConfigError, match="cannot read the PII key file"):
        load_pii_key({KEY_FILE_ENV: str(tmp_path / "missing.key")})


def test_the_demo_creates_a_private_key_file_once(tmp_path: Path) -> None:
    from crm_lakehouse.gold.pii import ensure_demo_key

    env: dict[str, str] = {}
    path = ensure_demo_key(tmp_path / "lake", env)
    assert path == tmp_path / ".secrets" / "pii.key" and env[KEY_FILE_ENV] == str(path)
    assert path.stat().st_mode & 0o777 == 0o600
    key = load_pii_key(env)
    assert len(key.secret) == 64
    again: dict[str, str] = {}
    assert ensure_demo_key(tmp_path / "lake", again) == path
    assert load_pii_key(again).secret == key.secret  # reused, not replaced
    assert ensure_demo_key(tmp_path / "lake", {KEY_ENV: "x" * 16}) is None
