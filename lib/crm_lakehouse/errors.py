"""The project's exception hierarchy.

Every error says what was expected and what was found, and names the file, table, row or key
involved, so an on-call engineer can act on the message alone. Errors raised while handling
another are chained with ``raise ... from``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


class LakehouseError(Exception):
    """Base class of every error this package raises on purpose."""

    exit_code = 1


class ConfigError(LakehouseError):
    """Configuration or command-line arguments are invalid.

    Carries every problem found, not just the first, so one run shows them all.
    """

    exit_code = 2

    def __init__(self, problems: list[str] | str) -> None:
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        super().__init__("invalid configuration:\n  - " + "\n  - ".join(self.problems))


class EnvironmentCheckError(LakehouseError):
    """The machine lacks something the runtime needs (e.g. Java 17+)."""

    exit_code = 2


class QueryError(LakehouseError):
    """An analyst query cannot run: an unknown table, a statement that is not a query, or the
    SQL engine's own error; the message names the table or quotes the engine and the SQL."""

    exit_code = 2


class DeltaTableError(LakehouseError):
    """A Delta table operation failed; the message names the table and the operation."""


class TableNotFoundError(DeltaTableError):
    """The table does not exist at the configured location."""


class UnsupportedOperationError(DeltaTableError):
    """The storage engine behind an adapter cannot perform the requested operation."""


class IngestError(LakehouseError):
    """A landing file could not be ingested; the message names the file."""


class UnknownSourceFileError(IngestError):
    """A landing file does not belong to any declared source and entity."""


class SchemaDriftError(LakehouseError):
    """A delivered schema differs from the declared one in a way the contract does not allow."""


class ContractViolation(LakehouseError):
    """A data contract rule with action ``fail`` was broken; nothing was published."""

    exit_code = 4


class LockHeldError(LakehouseError):
    """Another run holds the lake's lock."""

    exit_code = 5


class RunInterrupted(LakehouseError):
    """The run was stopped by a signal (e.g. a scheduler's SIGTERM on timeout); the running
    step is recorded as failed and the lock released, so it counts as a step failure."""

    exit_code = 1


class ContractDefinitionError(ConfigError):
    """Data contract files are invalid (YAML shape, types, vocabularies, references).

    Like :class:`ConfigError` it carries every problem found, each with the file and key path,
    so one run shows them all; it is raised before any Spark work starts.
    """

    def __init__(self, problems: list[str] | str) -> None:
        super().__init__(problems)
        self.args = ("invalid data contracts:\n  - " + "\n  - ".join(self.problems),)

    def __str__(self) -> str:
        return str(self.args[0])


class ContractFailed(ContractViolation):
    """One or more ``fail`` rules of a table's contract were broken; nothing may be published.

    ``failures`` holds ``(rule_id, observed, threshold)`` for each broken rule and ``results``
    every rule result of the validation (PII-free), so the caller can still record them in
    ``ops.dq_results`` before the run stops.
    """

    def __init__(
        self,
        table: str,
        failures: list[tuple[str, str, str]],
        results: Sequence[Any] = (),
    ) -> None:
        self.table = table
        self.failures = list(failures)
        self.results = tuple(results)
        lines = [
            f"{rule_id}: observed {observed}; threshold: {threshold}"
            for rule_id, observed, threshold in self.failures
        ]
        super().__init__(
            f"{table}: data contract failed, nothing was published "
            f"({len(lines)} rule(s) with action 'fail' broken):\n  - " + "\n  - ".join(lines)
        )
