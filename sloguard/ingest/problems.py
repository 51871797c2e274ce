"""How the ingest says no: located problems, the JSON error body and the status per kind.

Every rejection answers ``{"error": "...", "problems": [{"item", "field", "message"}]}`` where
``item`` is the index of the trace or event in the batch (null for the request as a whole) and
``field`` the path inside the body (``events[3].duration_seconds``). A rejected batch records
nothing.

Example::

    raise Rejected.invalid([BatchProblem(item=3, field="events[3].duration_seconds",
                                         message="Input should be greater than or equal to 0")])
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum

from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict

from sloguard.errors import SloguardError

#: At most this many problems are listed in one answer (the error says how many there were).
MAX_LISTED = 100
#: Longer problem messages are cut (they may quote offending values).
MAX_MESSAGE = 300


class Result(StrEnum):
    """The ``result`` label of ``sloguard_ingest_requests_total``."""

    ACCEPTED = "accepted"
    INVALID = "invalid"  # 422: the batch does not validate
    MALFORMED = "malformed"  # 400: not JSON, nested too deep, bad gzip
    TOO_LARGE = "too_large"  # 413
    UNSUPPORTED = "unsupported"  # 415: content type or encoding
    UNAUTHORIZED = "unauthorized"  # 401
    ABORTED = "aborted"  # the client went away while sending
    ERROR = "error"  # 500: a bug; logged with its traceback


# Not sloguard.errors.Problem, which locates a problem in a YAML document (file, line). The
# docstring below is the schema's description in /openapi.json.
class BatchProblem(BaseModel):
    """One problem of a rejected request."""

    model_config = ConfigDict(frozen=True, use_attribute_docstrings=True)

    item: int | None
    """Index of the trace or event in the batch; null when the request as a whole is wrong."""
    field: str
    """Where in the body, e.g. ``events[3].duration_seconds``; empty for the whole body."""
    message: str
    """What is wrong."""


class ErrorBody(BaseModel):
    """The body of every 4xx answer of the ingest endpoints."""

    model_config = ConfigDict(frozen=True, use_attribute_docstrings=True)

    error: str
    """Summary, e.g. ``invalid batch: 2 problems``."""
    problems: list[BatchProblem]
    """Every problem found (at most 100 listed), each with item index and field."""


def problem(item: int | None, field: str, message: str) -> BatchProblem:
    """Return a :class:`BatchProblem`, its message cut to a readable length."""
    if len(message) > MAX_MESSAGE:
        message = message[: MAX_MESSAGE - 1] + "…"
    return BatchProblem(item=item, field=field, message=message)


class Rejected(SloguardError):
    """A request the ingest refuses; nothing of it was recorded."""

    def __init__(
        self,
        status: int,
        result: Result,
        error: str,
        problems: Sequence[BatchProblem] = (),
        headers: dict[str, str] | None = None,
        count: int | None = None,
    ) -> None:
        super().__init__(error)
        self.status = status
        self.result = result
        self.error = error
        self.problems = tuple(problems)
        #: How many problems were found (``problems`` may list only the first of them).
        self.count = len(self.problems) if count is None else count
        self.headers = headers

    @classmethod
    def invalid(cls, problems: Sequence[BatchProblem], total: int | None = None) -> Rejected:
        """422: the batch has ``problems`` (the first of ``total``, when more were found)."""
        n = len(problems) if total is None else total
        listed = f" (first {MAX_LISTED} listed)" if n > MAX_LISTED else ""
        noun = "problem" if n == 1 else "problems"
        return cls(422, Result.INVALID, f"invalid batch: {n} {noun}{listed}", problems, count=n)

    @classmethod
    def malformed(cls, message: str, field: str = "") -> Rejected:
        """400: the body cannot be read as JSON at all."""
        return cls(400, Result.MALFORMED, message, [problem(None, field, message)])

    @classmethod
    def too_large(cls, limit: int) -> Rejected:
        """413: the body is larger than ``limit`` bytes."""
        message = f"request body larger than {limit} bytes"
        return cls(413, Result.TOO_LARGE, message, [problem(None, "", message)])

    @classmethod
    def unsupported(cls, message: str) -> Rejected:
        """415: a content type or encoding the endpoint does not read."""
        return cls(415, Result.UNSUPPORTED, message, [problem(None, "", message)])

    @classmethod
    def unauthorized(cls, message: str, challenge: str = "Bearer") -> Rejected:
        """401 with the ``WWW-Authenticate`` challenge."""
        return cls(
            401,
            Result.UNAUTHORIZED,
            message,
            [problem(None, "", message)],
            headers={"WWW-Authenticate": challenge},
        )

    def response(self) -> JSONResponse:
        """Return the JSON answer."""
        body = ErrorBody(error=self.error, problems=list(self.problems[:MAX_LISTED]))
        return JSONResponse(body.model_dump(), status_code=self.status, headers=self.headers)
