"""The forward queue: batches by count, bytes and age; backoff; bounds; one entry per trace."""

from __future__ import annotations

import pytest

from sloguard.ingest.forwardqueue import ForwardPolicy, ForwardQueue


def queue(**policy: float) -> ForwardQueue[str]:
    return ForwardQueue(ForwardPolicy(**policy))  # type: ignore[arg-type]


def test_a_batch_is_due_when_the_oldest_waited_max_delay() -> None:
    q = queue(max_batch=10, max_delay=2.0)
    q.add([("a", "A")], now=100.0)
    q.add([("b", "B")], now=101.5)
    assert q.due_at(100.5) == 102.0
    assert q.take(101.9) is None
    assert q.take(102.0) == ["A", "B"]
    assert q.depth == 2  # in flight counts
    assert q.take(102.0) is None  # one batch in flight at a time
    assert q.delivered() == 2
    assert q.depth == 0
    assert q.due_at(103.0) is None


def test_a_full_batch_goes_at_once_and_the_rest_waits() -> None:
    q = queue(max_batch=2, max_delay=60.0)
    q.add([("a", "A"), ("b", "B"), ("c", "C")], now=0.0)
    assert q.take(0.0) == ["A", "B"]
    q.delivered()
    assert q.take(0.0) is None  # one left: waits for its delay
    assert q.take(60.0) == ["C"]


def test_flush_takes_what_waits_without_waiting() -> None:
    q = queue(max_batch=10, max_delay=60.0)
    q.add([("a", "A")], now=0.0)
    assert q.take(1.0) is None
    assert q.take(1.0, flush=True) == ["A"]


def test_batches_are_bounded_by_bytes_but_take_at_least_one() -> None:
    q: ForwardQueue[str] = ForwardQueue(
        ForwardPolicy(max_batch=10, max_batch_bytes=5, max_delay=0.0), size=len
    )
    q.add([("a", "xxx"), ("b", "yy"), ("c", "zzzzzzzz"), ("d", "w")], now=0.0)
    assert q.take(0.0) == ["xxx", "yy"]
    q.delivered()
    assert q.take(0.0) == ["zzzzzzzz"]  # larger than the bound alone: still sent
    q.delivered()
    assert q.take(0.0) == ["w"]


def test_failures_back_off_exponentially_up_to_the_maximum() -> None:
    q = queue(max_delay=0.0, backoff_initial=1.0, backoff_max=5.0)
    q.add([("a", "A")], now=0.0)
    delays = []
    now = 0.0
    for _ in range(5):
        batch = q.take(now)
        assert batch == ["A"]
        delay = q.failed(now)
        delays.append(delay)
        assert q.take(now + delay - 0.01) is None  # backing off
        now += delay
    assert delays == [1.0, 2.0, 4.0, 5.0, 5.0]
    assert q.failures == 5
    assert q.take(now) == ["A"]
    q.delivered()
    assert q.failures == 0
    q.add([("b", "B")], now=now)
    assert q.take(now) == ["B"]  # no backoff left after a delivery


def test_by_default_a_sidecar_tries_again_within_seconds_of_an_outage() -> None:
    """The default backoff tops out at 5 s (Prometheus remote write's), 7.5 s with the
    sidecar's largest jitter: after the central daemon is back, forwarded traces (and the trace
    links of its alerts) follow within seconds (README, "Sidecars sharing one trace store")."""
    q: ForwardQueue[str] = ForwardQueue(ForwardPolicy(max_delay=0.0))
    q.add([("a", "A")], now=0.0)
    delays = []
    for _ in range(12):
        q.take(1e9)
        delays.append(q.failed(1e9, jitter=1.5))
    assert delays[0] == 0.75 and max(delays) == delays[-1] == 7.5


def test_jitter_and_retry_after_shape_the_delay() -> None:
    q = queue(max_delay=0.0, backoff_initial=2.0)
    q.add([("a", "A")], now=0.0)
    q.take(0.0)
    assert q.failed(0.0, jitter=0.5) == 1.0
    q.take(1.0)
    assert q.failed(1.0, after=7.0) == 7.0  # the server's Retry-After wins
    assert q.take(7.9) is None
    assert q.take(8.0) == ["A"]


def test_a_failed_batch_goes_back_to_the_front_in_order() -> None:
    q = queue(max_batch=2, max_delay=0.0, backoff_initial=1.0)
    q.add([("a", "A"), ("b", "B")], now=0.0)
    assert q.take(0.0) == ["A", "B"]
    q.add([("c", "C")], now=0.5)
    q.failed(0.5)
    assert q.take(1.5) == ["A", "B"]
    q.delivered()
    assert q.take(1.5) == ["C"]


def test_a_trace_stored_again_replaces_the_queued_one_once() -> None:
    q = queue(max_batch=10, max_delay=1.0)
    q.add([("a", "A1"), ("b", "B")], now=0.0)
    q.add([("a", "A2")], now=0.9)
    assert q.depth == 2
    assert q.take(1.0) == ["A2", "B"]  # in place, with the first one's age


def test_a_newer_version_queued_during_a_failed_send_wins() -> None:
    q = queue(max_batch=10, max_delay=0.0, backoff_initial=1.0)
    q.add([("a", "A1")], now=0.0)
    assert q.take(0.0) == ["A1"]
    q.add([("a", "A2")], now=0.5)  # e.g. more OTLP spans merged while A1 was out
    q.failed(0.5)
    assert q.depth == 1
    assert q.take(1.5) == ["A2"]


def test_a_full_queue_drops_the_oldest_and_says_how_many() -> None:
    q = queue(max_queue=3, max_batch=10, max_delay=0.0)
    assert q.add([("a", "A"), ("b", "B"), ("c", "C")], now=0.0) == 0
    assert q.add([("d", "D"), ("e", "E")], now=0.0) == 2
    assert q.take(0.0) == ["C", "D", "E"]


def test_the_batch_in_flight_counts_toward_the_bound() -> None:
    q = queue(max_queue=3, max_batch=2, max_delay=0.0, backoff_initial=1.0)
    q.add([("a", "A"), ("b", "B")], now=0.0)
    assert q.take(0.0) == ["A", "B"]
    assert q.add([("c", "C"), ("d", "D")], now=0.0) == 1  # c dropped: a and b are out
    q.failed(0.0)  # a and b back at the front: the bound holds
    assert q.depth == 3
    assert q.take(1.0) == ["A", "B"]
    q.delivered()
    assert q.take(1.0) == ["D"]


def test_drain_forgets_everything() -> None:
    q = queue(max_delay=0.0)
    q.add([("a", "A"), ("b", "B")], now=0.0)
    q.take(0.0)
    q.add([("c", "C")], now=0.0)
    assert q.drain() == 3
    assert q.depth == 0


@pytest.mark.parametrize(
    ("field", "value"),
    [("max_queue", 0), ("max_batch", 0), ("max_batch_bytes", 0), ("max_delay", -1.0)],
)
def test_bad_policies_are_refused(field: str, value: float) -> None:
    with pytest.raises(ValueError, match="must be"):
        ForwardPolicy(**{field: value})  # type: ignore[arg-type]
