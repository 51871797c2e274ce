"""The ingest's error body, byte for byte: agents in other languages parse it."""

from __future__ import annotations

from sloguard.ingest.problems import MAX_MESSAGE, BatchProblem, Rejected, Result, problem


def test_the_error_body_lists_item_field_and_message_in_that_order() -> None:
    rejected = Rejected.invalid(
        [problem(3, "events[3].duration_seconds", "must be >= 0"), problem(None, "", "bad")]
    )
    response = rejected.response()
    assert (rejected.status, rejected.result) == (422, Result.INVALID)
    assert response.body == (
        b'{"error":"invalid batch: 2 problems","problems":['
        b'{"item":3,"field":"events[3].duration_seconds","message":"must be >= 0"},'
        b'{"item":null,"field":"","message":"bad"}]}'
    )


def test_a_long_message_is_cut() -> None:
    cut = problem(0, "f", "x" * (MAX_MESSAGE + 50))
    assert cut == BatchProblem(item=0, field="f", message="x" * (MAX_MESSAGE - 1) + "…")
