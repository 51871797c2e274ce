"""sloguard's exception hierarchy: every error sloguard raises on purpose is a SloguardError.

The foundation classes are defined here, the others next to the code that raises them (in the
module named, under ``sloguard.``). ``except SloguardError`` catches all of them::

    class                            module               meaning
    SloguardError                    errors               base: an error sloguard raises on purpose
    ├── InvalidRecord (ValueError)   errors               agent activity that cannot be recorded
    │   └── InvalidOtlp              ingest.otlpwire      OTLP body undecodable or spans invalid
    ├── TraceError (ValueError)      errors               trace model misused, or bad trace JSON
    ├── ConfigError                  errors               a document's problems, every one listed
    ├── MissingExtra (ImportError)   errors               optional dependency missing (names extra)
    ├── QueryError                   sources.base         an SLI source could not answer
    ├── SampleStoreError       sources.samplestore    embedded samples cannot be written or read
    ├── HistoryRequestError (ValueError) evaluation.history  a history asked beyond its bounds
    ├── StoreVersionError            tracestore.database  trace store written by a newer sloguard
    ├── StorageFailure           tracestore.storehealth   a store cannot write, or keeps free space
    ├── Rejected                     ingest.problems      ingest request refused: status, problems
    ├── SignatureError (ValueError)  notify.signing       webhook signature does not verify
    ├── Unsupported (ValueError)     rules.promtool       no exact promtool test for an SLO
    ├── SilenceError (ValueError)    alerting.silences    a matcher or silence that is refused
    ├── NotFiring (LookupError)      alerting.center      no firing alert to acknowledge
    ├── NotLeader                    alerting.storebase   a fenced write by a replica not leading
    ├── StartupFailed                daemon               the daemon could not start serving
    └── CommandFailed                commands             a command could not do its work

Outside the tree, on purpose: private classes (a leading underscore, such as
``sources.promanswer._BadAnswer``) never leave their module, which turns them into a documented
error with context (a QueryError naming the SLO and window); and
``commands.workload.WorkerError`` is the failure the demo's simulated *agent code* raises, an
application error the SDK records like any other, not an error of sloguard.

Foreign exceptions (httpx, slack_sdk, pydantic, sqlite3) are mapped where they enter, with
``raise … from exc``; nothing above a source or a notifier catches them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


class SloguardError(Exception):
    """Base of every error sloguard raises on purpose."""


class InvalidRecord(SloguardError, ValueError):
    """Agent activity that cannot be recorded; nothing was recorded."""


class TraceError(SloguardError, ValueError):
    """A trace or step used the wrong way (ended twice, bad values); no metric was touched."""


@dataclass(frozen=True, slots=True)
class Problem:
    """One problem in a document: where it is and what is wrong.

    (A problem of an ingest request is :class:`sloguard.ingest.problems.BatchProblem`.)
    """

    file: str
    line: int | None
    field: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line is not None else self.file
        return (
            f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"
        )


class ConfigError(SloguardError):
    """A configuration document has problems; ``problems`` lists every one of them."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = tuple(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


class MissingExtra(SloguardError, ImportError):
    """An optional dependency is missing; the message names the extra to install."""

    def __init__(self, feature: str, extra: str, module: str) -> None:
        super().__init__(
            f"{feature} needs the optional dependency {module!r}: pip install 'sloguard[{extra}]'"
        )
