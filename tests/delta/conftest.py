"""Fixtures for the Delta contract suite: one port per adapter, over the right session.

* ``delta_rs`` runs on the session-scoped classic ``spark`` fixture from tests/conftest.py.
* ``delta_spark`` runs over Spark Connect against a local Sail server (``pysail``), the engine
  with native Delta support reachable here (the Delta Spark connector's jars are not).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from pyspark.sql import SparkSession

from crm_lakehouse.delta.port import DeltaPort
from crm_lakehouse.delta.rs import DeltaRsAdapter
from crm_lakehouse.delta.spark import DeltaSparkAdapter


# Package scope, not session scope: while a Spark Connect session is alive in this process,
# libraries that look for "the" session (Great Expectations tries Spark Connect first) would pick
# it instead of the classic one the rest of the suite uses. Ending it with tests/delta keeps the
# two kinds of session from leaking into each other's tests.
@pytest.fixture(scope="package")
def sail_server() -> Iterator[tuple[str, int]]:
    from pysail.spark import SparkConnectServer

    server = SparkConnectServer("127.0.0.1", 0)
    server.start(background=True)
    host, port = server.listening_address
    yield host, port
    server.stop()


@pytest.fixture(scope="package")
def connect_spark(sail_server: tuple[str, int]) -> Iterator[Any]:
    from pyspark.sql.connect.session import SparkSession as ConnectSession

    host, port = sail_server
    session = ConnectSession.builder.remote(f"sc://{host}:{port}").getOrCreate()
    session.conf.set("spark.sql.session.timeZone", "UTC")
    yield session
    session.stop()


@pytest.fixture(params=["delta_rs", "delta_spark"], ids=["delta_rs", "delta_spark-sail"])
def port(request: pytest.FixtureRequest) -> DeltaPort:
    if request.param == "delta_rs":
        spark: SparkSession = request.getfixturevalue("spark")
        return DeltaRsAdapter(spark)
    return DeltaSparkAdapter(request.getfixturevalue("connect_spark"))
