"""Long windows from recorded rates (``prometheus.recorded_long_windows``) against raw counters.

One TSDB holds 26 hours of raw ``agent_calls_total`` counters (15 s samples ending at ``at``)
and the rates ``sloguard rules`` records from them (``slo:sli_bad:rate5m`` and
``slo:sli_total:rate5m``, one record per 5 minutes), backfilled as a rule evaluation would
have written them. Traffic and error ratio change hour by hour (busy hours fail more), so an
average of ratios would differ from the event-weighted ratio by far more than the tolerance.

The records sit at ``at - 60 s - k * 5m``, off the raw sample grid's window edges like real
rule evaluations: a recorded window W read at ``at`` then holds exactly the events of
``(at - 60 s - W, at - 60 s]``, while the raw counters give those of ``(at - W, at]``. The
recorded counts are exact for their own interval; against the raw counts the tolerance is
the events of those two 60 s edges, and the error ratios agree within 1 % (relative).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Iterator
from itertools import accumulate, pairwise

import httpx
import pytest

from sloguard import conventions as c
from sloguard.durations import DAY, HOUR
from sloguard.errors import ConfigError
from sloguard.settings.model import load_settings
from sloguard.slo.budget import Counts
from sloguard.slo.promql import (
    BAD_RATE,
    RATE_INTERVAL,
    RATE_WINDOW,
    TOTAL_RATE,
    rate_exprs,
    recorded_window_query,
)
from sloguard.slo.spec import InstanceLabels
from sloguard.sources.base import QueryError
from sloguard.sources.promanswer import parse_counts
from sloguard.sources.prometheus import PrometheusSource
from sloguard.sources.rawbatch import MAX_REUSE
from sloguard.sources.recorded import (
    AUTO_RECORDED_FROM,
    RECHECK,
    REUSE,
    detection_query,
    refresh_offset,
)
from sloguard.sources.splitwindow import phase, pieces
from tests.support.promserver import (
    Family,
    Series,
    backfill_openmetrics,
    openmetrics_text,
    start_prometheus,
)
from tests.support.slos import make_slo

STEP = 15
HOURS = 26
STEPS = HOURS * 3600 // STEP
SEVEN_HOURS = 7 * HOUR
SHIFT = 60  # records sit this long before ``at``, on the rule group's own clock
AGENTS = ("billing", "search")
BILLING: InstanceLabels = (("agent_name", "billing"),)
SEARCH: InstanceLabels = (("agent_name", "search"),)
SLO = make_slo("calls", group_by=("agent_name",))
OTHER = make_slo("unrecorded", group_by=("agent_name",))


def per_step(agent: str, status: str, step: int) -> int:
    """Calls in one step: billing is busy and failing every third hour, search never fails."""
    if agent == "search":
        return 0 if status == "error" else 50
    busy = (step * STEP // 3600) % 3 == 0
    if status == "error":
        return 12 if busy else int(step % 10 == 0)
    return 188 if busy else 20


class History:
    """The raw counters and the rates recorded from them, ending at ``at``."""

    def __init__(self, at: int) -> None:
        self.at = at
        self.counters: dict[tuple[str, str], list[float]] = {}
        for agent in AGENTS:
            for status in ("success", "error"):
                if agent == "search" and status == "error":
                    continue  # never incremented: no series, as with prometheus_client
                steps = (per_step(agent, status, i) for i in range(1, STEPS + 1))
                self.counters[(agent, status)] = list(accumulate(steps, initial=0.0))

    def time(self, i: int) -> int:
        return self.at - (STEPS - i) * STEP

    def value(self, agent: str, status: str, t: float) -> float:
        values = self.counters.get((agent, status))
        return 0.0 if values is None else values[STEPS - int(self.at - t) // STEP]

    def counts(self, agent: str, start: float, end: float) -> Counts:
        """Exact events in ``(start, end]``."""
        bad = self.value(agent, "error", end) - self.value(agent, "error", start)
        good = self.value(agent, "success", end) - self.value(agent, "success", start)
        return Counts(bad=bad, total=bad + good)

    def record_times(self) -> list[int]:
        first = self.time(0) + int(RATE_WINDOW)
        last = self.at - SHIFT
        return list(range(last - (last - first) // 300 * 300, last + 1, int(RATE_INTERVAL)))

    def families(self) -> list[Family]:
        times = [self.time(i) for i in range(STEPS + 1)]
        raw = [
            Series(c.AGENT_CALLS, {"agent_name": a, "status": s}, list(zip(times, v, strict=True)))
            for (a, s), v in self.counters.items()
        ]
        recorded = []
        for metric, part in ((BAD_RATE, "bad"), (TOTAL_RATE, "total")):
            for agent in AGENTS:
                samples = []
                for t in self.record_times():
                    counts = self.counts(agent, t - RATE_WINDOW, t)
                    events = counts.bad if part == "bad" else counts.total
                    samples.append((float(t), events / RATE_WINDOW))
                labels = {"sloguard_slo": SLO.name, "agent_name": agent}
                recorded.append(Series(metric, labels, samples))
        return [Family("agent_calls", "counter", raw), Family("slo_rates", "gauge", recorded)]


@pytest.fixture(scope="module")
def history() -> History:
    return History(at=(int(time.time()) // 3600 - 1) * 3600)


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory: pytest.TempPathFactory, history: History) -> Iterator[str]:
    root = tmp_path_factory.mktemp("prometheus")
    backfill_openmetrics(openmetrics_text(history.families()), root / "data")
    with start_prometheus(root, storage=root / "data") as url:
        yield url


def close(a: Counts, b: Counts, events: float) -> bool:
    return abs(a.bad - b.bad) <= events and abs(a.total - b.total) <= events


@pytest.mark.prometheus
async def test_the_rules_rate_expressions_give_the_backfilled_records(
    prometheus: str, history: History
) -> None:
    """The backfilled records are what the generated rules compute from the raw counters."""
    bad, total = rate_exprs(SLO)
    t = history.record_times()[-5]
    async with httpx.AsyncClient(base_url=prometheus) as client:
        for expr, part in ((bad, "bad"), (total, "total")):
            answer = await client.post("/api/v1/query", data={"query": expr, "time": str(t)})
            body = answer.json()
            got = {r["metric"]["agent_name"]: float(r["value"][1]) for r in body["data"]["result"]}
            for agent in AGENTS:
                counts = history.counts(agent, t - RATE_WINDOW, t)
                want = counts.bad if part == "bad" else counts.total
                assert got[agent] == pytest.approx(want / RATE_WINDOW, rel=1e-9), (part, agent)


@pytest.mark.prometheus
async def test_long_windows_from_records_agree_with_raw_counters(
    prometheus: str, history: History
) -> None:
    at = history.at
    async with (
        PrometheusSource(prometheus) as raw,
        PrometheusSource(prometheus, recorded_from=6 * HOUR) as recorded,
    ):
        for window in (6 * HOUR, DAY):
            from_raw = await raw.window_counts(SLO, window, at)
            from_records = await recorded.window_counts(SLO, window, at)
            assert sorted(from_records) == [BILLING, SEARCH]
            for key, agent in ((BILLING, "billing"), (SEARCH, "search")):
                exact = history.counts(agent, at - SHIFT - window, at - SHIFT)
                got = from_records[key]
                assert got.bad == pytest.approx(exact.bad, rel=1e-9, abs=1e-6)
                assert got.total == pytest.approx(exact.total, rel=1e-9)
                # Tolerance: the events in the 60 s shift at either edge.
                edges = history.counts(agent, at - window - SHIFT, at - window).total
                edges += history.counts(agent, at - SHIFT, at).total
                assert close(got, from_raw[key], edges), (window, agent)
                ratio_raw = from_raw[key].bad / from_raw[key].total
                assert got.bad / got.total == pytest.approx(ratio_raw, rel=0.01, abs=1e-6)
        # Not an average of ratios: billing's hourly ratios average far from the day's.
        hours = [history.counts("billing", at - (h + 1) * HOUR, at - h * HOUR) for h in range(24)]
        mean_of_ratios = sum(h.bad / h.total for h in hours) / len(hours)
        day = from_records[BILLING]  # the last window: 1d
        assert abs(day.bad / day.total - mean_of_ratios) > 0.5 * mean_of_ratios
        assert recorded.fallback_count == 0
        assert raw.query_count == 2
        # 6h: head, middle and tail (splitwindow); 1d: its own head and middle, the same tail
        assert recorded.query_count == 5


@pytest.mark.prometheus
async def test_windows_longer_than_the_records_fall_back_to_raw_counters(
    prometheus: str, history: History, caplog: pytest.LogCaptureFixture
) -> None:
    """3d and 30d reach before the first record: raw counters (which hold 26 h) answer."""
    fallbacks: list[str] = []
    caplog.set_level(logging.WARNING, logger="sloguard.sources.prometheus")
    async with (
        PrometheusSource(prometheus) as raw,
        PrometheusSource(prometheus, recorded_from=DAY, on_fallback=fallbacks.append) as rec,
    ):
        for _ in range(2):  # two cycles: logged once per window
            for window in (DAY, 3 * DAY, 30 * DAY):
                got = await rec.window_counts(SLO, window, history.at)
                if window > DAY:
                    assert got == await raw.window_counts(SLO, window, history.at)
    assert fallbacks == [SLO.name] * 4
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 2 and all("reading raw counters" in w for w in warnings)
    assert "window 3d" in warnings[0] and "window 30d" in warnings[1]


@pytest.mark.prometheus
async def test_an_slo_without_records_is_read_from_raw_counters_never_as_no_data(
    prometheus: str, history: History, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="sloguard.sources.prometheus")
    async with (
        PrometheusSource(prometheus) as raw,
        PrometheusSource(prometheus, recorded_from=DAY) as rec,
    ):
        for _ in range(2):  # two cycles: logged once
            got = await rec.window_counts(OTHER, DAY, history.at)
            assert got == await raw.window_counts(OTHER, DAY, history.at)
            assert got[BILLING].total > 0
        assert rec.fallback_count == 2
        # records (head, middle, tail: no coverage), then raw; the second cycle, at the same
        # time, knows the pieces' answers and the raw one (kept a while: sources/rawbatch.py)
        assert rec.query_count == 4
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "'unrecorded'" in warnings[0].getMessage()


def test_the_setting_defaults_to_auto_and_takes_false_or_a_duration() -> None:
    assert load_settings(None, {}).prometheus.recorded_long_windows == "auto"
    env = {"SLOGUARD_PROMETHEUS__RECORDED_LONG_WINDOWS": "1d"}
    assert load_settings(None, env).prometheus.recorded_long_windows == DAY
    off = {"SLOGUARD_PROMETHEUS__RECORDED_LONG_WINDOWS": "false"}
    assert load_settings(None, off).prometheus.recorded_long_windows is False
    auto = {"SLOGUARD_PROMETHEUS__RECORDED_LONG_WINDOWS": "AUTO"}
    assert load_settings(None, auto).prometheus.recorded_long_windows == "auto"
    with pytest.raises(ConfigError, match="recorded_long_windows"):
        load_settings(None, {"SLOGUARD_PROMETHEUS__RECORDED_LONG_WINDOWS": "5m"})
    with pytest.raises(ConfigError, match="recorded_long_windows"):
        load_settings(None, {"SLOGUARD_PROMETHEUS__RECORDED_LONG_WINDOWS": "sometimes"})


def test_too_short_a_recorded_window_is_refused() -> None:
    with pytest.raises(ValueError, match="recorded_from"):
        PrometheusSource("http://127.0.0.1:9", recorded_from=300.0)
    with pytest.raises(ValueError, match="recorded_from"):
        PrometheusSource("http://127.0.0.1:9", recorded_from="always")  # type: ignore[arg-type]


@pytest.mark.prometheus
async def test_auto_reads_long_windows_from_records_where_they_exist(
    prometheus: str, history: History, caplog: pytest.LogCaptureFixture
) -> None:
    """Auto: 6h and 1d of the recorded SLO from records, 1h raw; the other SLO all raw with
    no second query and nothing logged; the records are looked for once per RECHECK."""
    caplog.set_level(logging.INFO, logger="sloguard.sources.prometheus")
    at = history.at
    async with (
        PrometheusSource(prometheus) as raw,
        PrometheusSource(prometheus, recorded_from=6 * HOUR) as forced,
        PrometheusSource(prometheus, recorded_from="auto") as auto,
    ):
        for window in (HOUR, 6 * HOUR, DAY):
            got = await auto.window_counts(SLO, window, at)
            want = await (raw if window < AUTO_RECORDED_FROM else forced).window_counts(
                SLO, window, at
            )
            assert got == want, window
            assert await auto.window_counts(OTHER, window, at) == await raw.window_counts(
                OTHER, window, at
            )
        assert await auto.recorded_slos(at) == frozenset({SLO.name})
        # one detection; SLO: 1h raw, 6h in three pieces, 1d in two more (the same tail);
        # OTHER: one raw query per window
        assert auto.query_count == 1 + 1 + 3 + 2 + 3
        assert auto.fallback_count == 0
        await auto.window_counts(SLO, DAY, at + RECHECK)  # detection asked again
        assert auto.query_count == 10 + 2
    assert [r for r in caplog.records if r.levelno >= logging.INFO] == []


@pytest.mark.prometheus
async def test_auto_reads_what_records_do_not_cover_from_raw_counters_and_asks_again_later(
    prometheus: str, history: History, caplog: pytest.LogCaptureFixture
) -> None:
    """The records reach back 26 h: 3d is raw; asked of the records once per RECHECK only."""
    caplog.set_level(logging.INFO, logger="sloguard.sources.prometheus")
    fallbacks: list[str] = []
    start = history.at - RECHECK
    async with (
        PrometheusSource(prometheus) as raw,
        PrometheusSource(prometheus, recorded_from="auto", on_fallback=fallbacks.append) as auto,
    ):
        sent = []
        # MAX_REUSE apart: the raw 3d window is read each time, not answered again (rawbatch)
        for at in (start, start + MAX_REUSE, history.at):
            assert await auto.window_counts(SLO, 3 * DAY, at) == await raw.window_counts(
                SLO, 3 * DAY, at
            )
            sent.append(auto.query_count)
    assert start + 2 * MAX_REUSE == history.at
    # detection + records (head, middle, tail) + raw; raw; detection + records + raw
    assert sent == [5, 6, 10]
    assert fallbacks == [SLO.name] * 3
    infos = [r.getMessage() for r in caplog.records if r.levelno >= logging.INFO]
    assert len(infos) == 1 and "window 3d" in infos[0] and "reading raw counters" in infos[0]
    assert all(r.levelno == logging.INFO for r in caplog.records)


def _detection_stub(answers: list[bytes], seen: list[str]) -> httpx.MockTransport:
    def handle(request: httpx.Request) -> httpx.Response:
        query = dict(httpx.QueryParams(request.content.decode()))["query"]
        seen.append(query)
        if query == detection_query():
            return httpx.Response(200, content=answers.pop(0))
        empty = {"status": "success", "data": {"resultType": "vector", "result": []}}
        return httpx.Response(200, json=empty)

    return httpx.MockTransport(handle)


async def test_auto_detection_is_one_query_for_concurrent_callers() -> None:
    seen: list[str] = []
    found = {"metric": {"sloguard_slo": OTHER.name}, "value": [0, "2"]}
    answer = {"status": "success", "data": {"resultType": "vector", "result": [found]}}
    stub = _detection_stub([json.dumps(answer).encode()], seen)
    async with PrometheusSource("http://prom:9090", recorded_from="auto", transport=stub) as src:
        slos = [make_slo(f"s{i}", group_by=("agent_name",)) for i in range(5)]
        await asyncio.gather(*(src.window_counts(s, DAY, 1e9) for s in [*slos, OTHER]))
    assert seen.count(detection_query()) == 1
    # only OTHER's window, in three pieces (head, middle, tail), then raw
    assert sum("slo:sli_total:rate5m{" in q for q in seen) == 3
    assert len(seen) == 1 + 5 + 3 + 1


async def test_a_malformed_detection_answer_is_a_query_error() -> None:
    stub = _detection_stub([b'{"status": "success", "data": {}}'], [])
    async with PrometheusSource("http://prom:9090", recorded_from="auto", transport=stub) as src:
        with pytest.raises(QueryError, match=r"detecting recorded rates: .*without a result"):
            await src.window_counts(SLO, DAY, 1e9)


async def test_auto_keeps_one_coverage_note_per_slo_whatever_the_windows(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A calendar period's window grows every cycle: no new record query (nor log line) for
    each; a shorter window is still asked; after RECHECK everything is asked again."""
    caplog.set_level(logging.INFO, logger="sloguard.sources.prometheus")
    seen: list[str] = []
    found = {"metric": {"sloguard_slo": SLO.name}, "value": [0, "2"]}
    answer = json.dumps(
        {"status": "success", "data": {"resultType": "vector", "result": [found]}}
    ).encode()
    stub = _detection_stub([answer, answer], seen)
    t0 = 1e9
    async with PrometheusSource("http://prom:9090", recorded_from="auto", transport=stub) as src:
        sent = []
        for at, window in (
            (t0, 3 * DAY),
            (t0 + 60, 3 * DAY + 60),  # longer than one not covered: raw only
            (t0 + 120, DAY),  # shorter: asked of the records
            (t0 + 180, 2 * DAY),  # longer than 1d, not covered either: raw only
            (t0 + 120 + RECHECK, 3 * DAY),  # stale: detection, records, raw
        ):
            await src.window_counts(SLO, window, at)
            sent.append(src.query_count)
        # records: head, middle and tail; the last time the middle is the first one's, or
        # derived from it (the hour it lost and the one it gained) if the SLO's hour turned
        turned = pieces(3 * DAY, t0, phase(SLO.name))[1] != pieces(
            3 * DAY, t0 + 120 + RECHECK, phase(SLO.name)
        )[1]
        assert sent == [5, 6, 10, 11, 17 if turned else 15]
        assert src.fallback_count == 5
    assert len(caplog.records) == 1 and "reading raw counters" in caplog.records[0].getMessage()


@pytest.mark.prometheus
async def test_a_window_read_from_records_is_answered_again_for_reuse_seconds(
    prometheus: str, history: History
) -> None:
    """The records change once per 5 minutes: a 30 s evaluation interval need not re-read
    them every cycle, and reads them once per record; a raw window is read every time. (7h:
    not a multiple of the traffic's 3-hour cycle, so a record entering and one leaving change
    the counts.)"""
    # the start of one of the SLO's refresh periods such that its hour does not turn before
    # the next one (a refresh then reads the head and the tail, not the middle)
    offset, start = refresh_offset(SLO.name), history.at - 600
    at = start - (start - offset) % REUSE
    while pieces(SEVEN_HOURS, at, phase(SLO.name))[1] != pieces(
        SEVEN_HOURS, at + REUSE, phase(SLO.name)
    )[1]:
        at -= REUSE
    async with PrometheusSource(prometheus, recorded_from="auto") as auto:
        first = await auto.window_counts(SLO, SEVEN_HOURS, at)
        assert auto.query_count == 4  # detection + records: head, middle, tail
        assert await auto.window_counts(SLO, SEVEN_HOURS, at + 30) == first
        assert await auto.window_counts(SLO, SEVEN_HOURS, at + REUSE - 1) == first
        assert auto.query_count == 4
        # one record period later: one record entered and one left; the middle is kept
        later = await auto.window_counts(SLO, SEVEN_HOURS, at + REUSE)
        assert auto.query_count == 6 and later != first
        await auto.window_counts(SLO, HOUR, at)
        await auto.window_counts(SLO, HOUR, at + 30)
        assert auto.query_count == 8


def _records_in(history: History, agent: str, start: float, end: float) -> Counts:
    """The events of the records in ``(start, end]`` (each holds its 5 minutes)."""
    times = [t for t in history.record_times() if start < t <= end]
    return history.counts(agent, times[0] - RATE_WINDOW, times[-1])


@pytest.mark.prometheus
async def test_a_window_read_in_hour_pieces_is_exactly_the_window_read_whole(
    prometheus: str, history: History
) -> None:
    """Head, middle and tail add up to the records of ``(at - W, at]``, read whole in one
    query or counted from the history, at times on, near and off the hour and the records."""
    async with (
        PrometheusSource(prometheus, recorded_from=6 * HOUR) as split,
        httpx.AsyncClient(base_url=prometheus) as client,
    ):
        for offset in (0, 1, 59, 60, 61, 299, 300, 301, 417, 1799, 3540, 3599, 3600, 5000):
            at = history.at - offset
            for window in (6 * HOUR, SEVEN_HOURS, DAY - 600):
                got = await split.window_counts(SLO, window, at)
                form = {"query": recorded_window_query(SLO, window), "time": f"{at:.3f}"}
                answer = await client.post("/api/v1/query", data=form)
                whole, covered = parse_counts(answer.json(), SLO.group_by)
                assert covered and sorted(got) == sorted(whole) == [BILLING, SEARCH]
                for key, agent in ((BILLING, "billing"), (SEARCH, "search")):
                    exact = _records_in(history, agent, at - window, at)
                    for counts in (got[key], whole[key]):
                        assert counts.bad == pytest.approx(exact.bad, rel=1e-9, abs=1e-6)
                        assert counts.total == pytest.approx(exact.total, rel=1e-9)
        assert split.fallback_count == 0


@pytest.mark.prometheus
async def test_records_on_the_hour_are_counted_once_where_the_pieces_meet(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """Records whose rule group runs on the 5-minute marks fall exactly on the pieces' hour
    boundaries: each is counted in one piece only (the ranges are 1 ms short on the left)."""
    end = (int(time.time()) // 3600 - 1) * 3600
    times = list(range(end - 9 * 3600, end + 1, int(RATE_INTERVAL)))  # on the 5-minute marks
    value = {t: float(1 + (t // 300) % 7) for t in times}  # events per second, never constant
    labels = {"sloguard_slo": SLO.name, "agent_name": "billing"}
    series = [
        Series(m, labels, [(float(t), value[t] / (10 if m == BAD_RATE else 1)) for t in times])
        for m in (BAD_RATE, TOTAL_RATE)
    ]
    families = [Family("slo_rates", "gauge", series)]
    root = tmp_path_factory.mktemp("hourly")
    backfill_openmetrics(openmetrics_text(families), root / "data")
    with start_prometheus(root, storage=root / "data") as url:
        async with PrometheusSource(url, recorded_from=6 * HOUR) as source:
            for at in (end, end - 300, end - 1800, end - 3300, end - 3600, end - 17):
                got = (await source.window_counts(SLO, 6 * HOUR, at))[BILLING]
                total = sum(value[t] for t in times if at - 6 * HOUR < t <= at) * RATE_INTERVAL
                assert got.total == pytest.approx(total, rel=1e-12), at
                assert got.bad == pytest.approx(total / 10, rel=1e-12), at


@pytest.mark.prometheus
async def test_middles_derived_hour_after_hour_equal_the_window_read_whole(
    prometheus: str, history: History
) -> None:
    """Five hours of 20-minute cycles: each new middle is the last one minus the hour it lost
    plus the hour it gained, and every window still counts exactly its records."""
    async with (
        PrometheusSource(prometheus, recorded_from=6 * HOUR) as split,
        httpx.AsyncClient(base_url=prometheus) as client,
    ):
        sent = []
        for k in range(16):
            at = history.at - 5 * HOUR + k * 1200
            for window in (6 * HOUR, SEVEN_HOURS):
                got = await split.window_counts(SLO, window, at)
                form = {"query": recorded_window_query(SLO, window), "time": f"{at:.3f}"}
                answer = await client.post("/api/v1/query", data=form)
                whole, _ = parse_counts(answer.json(), SLO.group_by)
                for key in (BILLING, SEARCH):
                    assert got[key].bad == pytest.approx(whole[key].bad, rel=1e-9, abs=1e-6)
                    assert got[key].total == pytest.approx(whole[key].total, rel=1e-9)
            sent.append(split.query_count)
    # the first cycle: 6h in three pieces, 7h's head and middle (the tail is shared); then two
    # heads and the tail per cycle; once an hour two one-hour edges more instead of two whole
    # middles: the hour both gained (shared) and the hour the 6h middle lost; the new 7h
    # middle starts where the old 6h one did, so it is derived from that one, losing nothing
    steps = [b - a for a, b in pairwise(sent)]
    assert sent[0] == 5 and sorted(steps) == [3] * 10 + [5] * 5, sent  # the hour turns 5 times
