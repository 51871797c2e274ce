"""``GET /api/v1/slos/{name}/history`` and ``…/history/svg`` in process (httpx over ASGI).

Sources: a :class:`FakeSource` whose counts follow an outage, and the embedded source over
samples written at simulated times; alert moments from the real alert center and store. Every
answer is checked against what the evaluator decides at the same time from the same source.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Sequence

import httpx
import pytest
from prometheus_client import CollectorRegistry

from sloguard import AgentMetrics, Recorder
from sloguard.alerting.center import AlertCenter
from sloguard.alerting.history import alert_moments
from sloguard.alerting.store import StateStore
from sloguard.durations import DAY, HOUR
from sloguard.evaluation.evaluator import Evaluator, InstanceResult
from sloguard.evaluation.history import MAX_POINTS
from sloguard.notify.config import default_routing
from sloguard.slo.budget import Counts, evaluate
from sloguard.slo.spec import SLO, SLOInstance
from sloguard.sources.base import SLISource, WindowCounts
from sloguard.sources.embedded import EmbeddedSource
from sloguard.sources.fake import FakeSource
from sloguard.web.auth import ReadAuth
from sloguard.web.historyapi import Moments, history_router
from sloguard.web.server import create_app
from tests.support.slos import make_slo

NOW = 1_800_000_000.0
OUTAGE = (NOW - 5 * HOUR, NOW - 3 * HOUR)
SLO_ = make_slo("availability", period=DAY, objective=0.99, group_by=("agent_name",))
BILLING = SLOInstance.of("availability", {"agent_name": "billing"})
SVG = "{http://www.w3.org/2000/svg}"


def world(slo: SLO, window: float, at: float) -> WindowCounts:
    start = max(at - window, NOW - 2 * DAY)
    seconds = max(0.0, at - start)
    bad = 2.0 * max(0.0, min(at, OUTAGE[1]) - max(start, OUTAGE[0]))
    return {
        (("agent_name", "billing"),): Counts(bad=bad, total=10 * seconds),
        (("agent_name", "search"),): Counts(bad=0.0, total=10 * seconds),
    }


def client(
    source: SLISource,
    moments: Moments | None = None,
    *,
    slos: Sequence[SLO] = (SLO_,),
    auth: ReadAuth | None = None,
) -> httpx.AsyncClient:
    router = history_router(lambda: slos, source, moments, clock=lambda: NOW)
    app = create_app(CollectorRegistry(), routers=[router], auth=auth)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://sloguard")


def results_at(at: float) -> list[InstanceResult]:
    """What the evaluator decides at ``at`` (the same maths, without an event loop)."""
    out = []
    for key in sorted(world(SLO_, DAY, at)):
        windows = {w: world(SLO_, w, at).get(key) for w in SLO_.windows()}
        ev = evaluate(
            objective=SLO_.objective, period=SLO_.period, policy=SLO_.alerting.policy,
            windows=windows, min_events=SLO_.min_events,
        )  # fmt: skip
        out.append(InstanceResult(SLO_, SLOInstance(SLO_.name, key), ev, at))
    return out


def center_with_an_incident() -> AlertCenter:
    """The real center and store: billing pages at the outage's start, resolves after it."""
    center = AlertCenter(StateStore(), default_routing())
    for at in (OUTAGE[0] - 600, OUTAGE[0] + 600, OUTAGE[1] + 1800, NOW):
        center.process(results_at(at), at)
    return center


@pytest.fixture(scope="module")
def center() -> AlertCenter:
    return center_with_an_incident()


def moments_of(center: AlertCenter) -> Moments:
    return lambda i, start, end: alert_moments(center.store, i, start=start, end=end)


async def test_history_points_are_the_evaluators_answers(center: AlertCenter) -> None:
    async with client(FakeSource(answer=world), moments_of(center)) as c:
        r = await c.get("/api/v1/slos/availability/history", params={"range": "12h", "step": "1h"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["slo"], body["range"], body["step"], body["period"]) == (
        "availability",
        "12h",
        "1h",
        "1d",
    )
    assert (body["start"], body["end"]) == (NOW - 12 * HOUR, NOW)
    assert [t["factor"] for t in body["tiers"]] == [t.factor for t in SLO_.alerting.policy.tiers]
    assert body["truncated"] is False
    by_agent = {i["instance"]["agent_name"]: i for i in body["instances"]}
    assert sorted(by_agent) == ["billing", "search"]
    evaluator = Evaluator([SLO_], FakeSource(answer=world))
    for n, at in enumerate(NOW - 12 * HOUR + k * HOUR for k in range(13)):
        for res in await evaluator.evaluate(at):
            got = by_agent[res.labels["agent_name"]]
            assert got["points"][n] == [
                at,
                pytest.approx(res.evaluation.budget_remaining, abs=1e-9),
            ]
            for window, burn in res.evaluation.burn_rates.items():
                if window == SLO_.period:
                    continue
                key = next(k for k in got["burn_rates"] if k == _text(window))
                assert got["burn_rates"][key][n] == [at, pytest.approx(burn, abs=1e-9)]
    billing = by_agent["billing"]
    assert [(a["at"], a["kind"], a["severity"]) for a in billing["alerts"]] == [
        (OUTAGE[0] + 600, "fired", "critical"),
        (OUTAGE[1] + 1800, "resolved", "critical"),
    ]
    assert by_agent["search"]["alerts"] == []
    assert "Alerts: 1 fired, 1 resolved." in billing["summary"]


def _text(window: float) -> str:
    from sloguard.durations import format_duration

    return format_duration(window)


async def test_instance_labels_select_and_defaults_cover_the_period() -> None:
    source = FakeSource(answer=world)
    async with client(source) as c:
        r = await c.get("/api/v1/slos/availability/history", params={"agent_name": "search"})
    body = r.json()
    assert [i["instance"] for i in body["instances"]] == [{"agent_name": "search"}]
    assert body["range"] == "1d" and body["end"] == NOW
    points = body["instances"][0]["points"]
    assert 200 <= len(points) <= MAX_POINTS
    # The cost is bounded: one query per window and point, nothing more.
    assert len(source.queries) == len(points) * len(SLO_.windows())


@pytest.mark.parametrize(
    ("path", "params", "status", "message"),
    [
        ("/api/v1/slos/nope/history", {}, 404, "no SLO named 'nope'"),
        ("/api/v1/slos/availability/history", {"range": "soon"}, 400,
         "query parameter range: not a duration: 'soon'"),
        ("/api/v1/slos/availability/history", {"step": "-5m"}, 400, "query parameter step:"),
        ("/api/v1/slos/availability/history", {"range": "30d", "step": "1m"}, 400,
         "range 30d at step 1m is 43201 points; at most 500: use a step of at least 1h26m35s"),
        ("/api/v1/slos/availability/history", {"range": "1h", "step": "2h"}, 400,
         "step 2h is longer than the range 1h"),
        ("/api/v1/slos/availability/history", {"model": "gpt"}, 400,
         "SLO 'availability' is not grouped by model; it is grouped by agent_name"),
        ("/api/v1/slos/availability/history/svg", {"range": "1h"}, 400,
         "several instances have these labels; the chart needs exactly one instance: give each "
         "of agent_name as a query parameter"),
    ],
)  # fmt: skip
async def test_user_mistakes_are_named(
    path: str, params: dict[str, str], status: int, message: str
) -> None:
    async with client(FakeSource(answer=world)) as c:
        r = await c.get(path, params=params)
    assert r.status_code == status, r.text
    assert message in r.json()["detail"]


async def test_a_source_that_cannot_answer_is_a_503() -> None:
    async with client(FakeSource(error="connection refused")) as c:
        r = await c.get("/api/v1/slos/availability/history", params={"range": "1h"})
    assert r.status_code == 503
    assert r.json()["detail"].startswith("the SLI source cannot answer: SLO 'availability'")
    assert "connection refused" in r.json()["detail"]


async def test_reads_need_credentials_like_the_other_api_routes() -> None:
    auth = ReadAuth(token="read-token-0123456789")
    async with client(FakeSource(answer=world), auth=auth) as c:
        for suffix in ("", "/svg"):
            path = f"/api/v1/slos/availability/history{suffix}?agent_name=billing&range=1h"
            assert (await c.get(path)).status_code == 401
            ok = await c.get(path, headers={"Authorization": "Bearer read-token-0123456789"})
            assert ok.status_code == 200


async def test_the_chart_draws_budget_thresholds_and_alert_markers(center: AlertCenter) -> None:
    params = {"agent_name": "billing", "range": "12h", "step": "10m"}
    async with client(FakeSource(answer=world), moments_of(center)) as c:
        r = await c.get("/api/v1/slos/availability/history/svg", params=params)
        data = (await c.get("/api/v1/slos/availability/history", params=params)).json()
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("image/svg+xml")
    root = ET.fromstring(r.text)
    assert root.get("role") == "img"
    assert root.findtext(f"{SVG}title") == (
        "SLO availability (agent_name=billing): error budget and burn rates"
    )
    assert root.findtext(f"{SVG}desc") == data["instances"][0]["summary"]
    budget = root.findall(f".//{SVG}path[@class='budget']")
    assert len(budget) == 1 and budget[0].get("d", "").count("L") == 72  # 73 points, no gap
    burns = {p.get("data-window") for p in root.findall(f".//{SVG}path[@class='burn']")}
    assert burns == {f"{w:g}" for w in SLO_.alerting.policy.windows()}
    factors = [ln.get("data-factor", "") for ln in root.iter(f"{SVG}line") if ln.get("data-factor")]
    assert sorted(factors) == sorted(f"{t.factor:g}" for t in SLO_.alerting.policy.tiers)
    markers = [(g.get("class"), float(g.get("data-at", "nan"))) for g in root.iter(f"{SVG}g")]
    assert markers == [
        ("alert fired critical", OUTAGE[0] + 600),
        ("alert resolved critical", OUTAGE[1] + 1800),
    ]


async def test_the_embedded_source_answers_history_as_its_evaluations(
    registry: CollectorRegistry,
) -> None:
    recorder = Recorder(AgentMetrics(registry=registry))
    slo = make_slo("availability", period=HOUR, objective=0.99, group_by=("agent_name",))
    source = EmbeddedSource(registry, [slo], interval=10)
    for i in range(90):  # 15 minutes of samples; errors during minutes 5 to 8
        for _ in range(5):
            recorder.agent_call("billing", "error" if 30 <= i < 48 and _ < 2 else "success", 0.1)
        source.sample(NOW - 900 + 10 * i)
    async with client(source, slos=[slo]) as c:
        r = await c.get("/api/v1/slos/availability/history", params={"range": "10m", "step": "1m"})
    [got] = r.json()["instances"]
    evaluator = Evaluator([slo], source)
    budgets = []
    for at, budget in got["points"]:
        [res] = await evaluator.evaluate(at)
        assert budget == pytest.approx(res.evaluation.budget_remaining, abs=1e-9)
        budgets.append(budget)
    assert budgets[0] > budgets[-1]  # the errors spent budget during the range
