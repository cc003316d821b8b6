"""SparkSession builders. Library code returns a configured builder; entry points call
``getOrCreate()``. Nothing here creates a session at import time.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys

from pyspark.sql import SparkSession

from crm_lakehouse.config import DeltaAdapterKind, Settings
from crm_lakehouse.errors import ConfigError, EnvironmentCheckError

DELTA_EXTENSION = "io.delta.sql.DeltaSparkSessionExtension"
DELTA_CATALOG = "org.apache.spark.sql.delta.catalog.DeltaCatalog"
MIN_JAVA = 17
LOG_LEVELS = ("ALL", "TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL", "OFF")

# Settings every session gets: UTC everywhere (Delta timestamps are UTC instants), Parquet
# timestamps as INT64 micros (readable by delta-rs; INT96 is not), and Arrow for toPandas/toArrow.
_COMMON_CONF = {
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.parquet.outputTimestampType": "TIMESTAMP_MICROS",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
    "spark.sql.sources.partitionOverwriteMode": "static",
}


def builder(settings: Settings) -> SparkSession.Builder:
    """A builder configured from ``settings``.

    Local (``spark.master`` set, e.g. ``local[*]``): UI off, shuffle partitions sized for a
    laptop, the Python workers pinned to this interpreter. Cluster (``master`` null): no master
    set, so ``spark-submit`` decides; with the delta-spark adapter the Delta SQL extension and
    catalog are configured (the connector's jars come from ``--packages`` or the image).
    """
    b = SparkSession.builder.appName(settings.spark.app_name)
    conf = dict(_COMMON_CONF)
    conf["spark.sql.shuffle.partitions"] = str(settings.spark.shuffle_partitions)
    if settings.spark.master:
        b = b.master(settings.spark.master)
        conf["spark.ui.enabled"] = "false"
        conf["spark.ui.showConsoleProgress"] = "false"
        # Python UDF workers must start this interpreter, or they miss the project's packages.
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
        os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    if settings.delta.adapter is DeltaAdapterKind.DELTA_SPARK:
        conf["spark.sql.extensions"] = DELTA_EXTENSION
        conf["spark.sql.catalog.spark_catalog"] = DELTA_CATALOG
    # Applied when the SparkContext starts, so Spark's own console logging is at this level
    # from the first line (setLogLevel in create_session comes later). Default: WARN.
    conf["spark.log.level"] = spark_log_level(settings.spark.log_level)
    conf.update(settings.spark.conf)
    for key, value in conf.items():
        b = b.config(key, value)
    return b


def create_session(settings: Settings) -> SparkSession:
    """Check Java, build and start the session, and turn Spark's logging down."""
    if settings.spark.master:
        check_java()
    spark = builder(settings).getOrCreate()
    spark.sparkContext.setLogLevel(spark_log_level(settings.spark.log_level))
    return spark


def spark_log_level(level: str) -> str:
    """``spark.log_level`` checked against the levels log4j knows (case-insensitive)."""
    upper = level.strip().upper()
    if upper not in LOG_LEVELS:
        raise ConfigError(f"spark.log_level: {level!r} is not one of {list(LOG_LEVELS)}")
    return upper


def check_java(minimum: int = MIN_JAVA) -> int:
    """Return the major version of the ``java`` Spark will use, or raise a clear error."""
    java_home = os.environ.get("JAVA_HOME")
    java = os.path.join(java_home, "bin", "java") if java_home else shutil.which("java")
    hint = (
        f"Spark 4 needs Java {minimum} or newer. Install it (Debian/Ubuntu: "
        f"'apt-get install openjdk-{minimum}-jre-headless') and put 'java' on PATH or set JAVA_HOME."
    )
    if not java or not os.path.exists(java):
        where = f"JAVA_HOME={java_home}" if java_home else "PATH"
        raise EnvironmentCheckError(f"no 'java' found on {where}. {hint}")
    try:
        out = subprocess.run(
            [java, "-version"], capture_output=True, text=True, timeout=30, check=False
        ).stderr
    except OSError as exc:
        raise EnvironmentCheckError(f"could not run {java}: {exc}. {hint}") from exc
    major = parse_java_major(out)
    if major is None:
        raise EnvironmentCheckError(f"could not read the version of {java} from: {out!r}. {hint}")
    if major < minimum:
        raise EnvironmentCheckError(f"{java} is Java {major}. {hint}")
    return major


def parse_java_major(version_output: str) -> int | None:
    """Major version from ``java -version`` output ('1.8.0_392' -> 8, '17.0.15' -> 17)."""
    m = re.search(r'version "(\d+)(?:\.(\d+))?', version_output)
    if not m:
        return None
    first = int(m.group(1))
    return int(m.group(2) or 0) if first == 1 else first
