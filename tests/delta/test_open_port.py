"""Which adapter ``open_port`` returns for a session and a configured kind."""

from __future__ import annotations

from typing import Any

from pyspark.sql import SparkSession

from crm_lakehouse.config import DeltaAdapterKind
from crm_lakehouse.delta import open_port
from crm_lakehouse.delta.rs import DeltaRsAdapter
from crm_lakehouse.delta.spark import DeltaSparkAdapter


def test_auto_picks_delta_rs_for_a_classic_session_without_the_connector(
    spark: SparkSession,
) -> None:
    port = open_port(spark, DeltaAdapterKind.AUTO, target_file_rows=1000)
    assert isinstance(port, DeltaRsAdapter) and port.max_rows_per_file == 1000


def test_auto_picks_delta_spark_over_spark_connect(connect_spark: Any) -> None:
    assert isinstance(open_port(connect_spark, DeltaAdapterKind.AUTO), DeltaSparkAdapter)


def test_an_explicit_kind_wins(spark: SparkSession) -> None:
    assert isinstance(open_port(spark, DeltaAdapterKind.DELTA_SPARK), DeltaSparkAdapter)
    assert isinstance(open_port(spark, DeltaAdapterKind.DELTA_RS), DeltaRsAdapter)
