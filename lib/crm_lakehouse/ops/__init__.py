"""Operations: what the nightly run needs around the steps themselves.

* :mod:`~crm_lakehouse.ops.ledger`: ``ops.runs`` (run ledger) and ``ops.ingested_files`` (file
  ledger).
* :mod:`~crm_lakehouse.ops.lock`: one run per lake (``<lake>/_lock.json``), stale takeover.
* :mod:`~crm_lakehouse.ops.logs`: JSON/text logs with the run id, the live progress line.
* :mod:`~crm_lakehouse.ops.status`: ``lakehouse status`` / ``history``, read without a JVM.
* :mod:`~crm_lakehouse.ops.report`: the HTML report written after every run.

Modules are imported where used (not here), so the light ones (lock, logs) stay light.
"""
