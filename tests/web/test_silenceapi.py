"""``/api/v1/silences`` and ``/api/v1/alerts/{fingerprint}/ack``: every rule and every mistake's
message, in process (httpx over ASGI) against a real alert center and SQLite store."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import bcrypt
import httpx
import pytest
from prometheus_client import CollectorRegistry

from sloguard.alerting.center import AlertCenter
from sloguard.alerting.store import StateStore
from sloguard.evaluation.evaluator import InstanceResult
from sloguard.notify.config import AlertRouting, LogSpec, Receiver
from sloguard.notify.routing import Route
from sloguard.slo.budget import Counts, evaluate
from sloguard.slo.spec import SLOInstance
from sloguard.web.auth import ReadAuth
from sloguard.web.server import create_app
from sloguard.web.silenceapi import AnyAuth, WriteAccess, silence_router
from sloguard.web.sloapi import alerts_router
from tests.support.slos import make_slo

T0 = 1_800_000_000.0
SLO = make_slo("checkout")
INGEST = "ingest-token-0123456789"
READ = "read-token-0123456789"
PASSWORD = "correct horse"
HASH = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(4)).decode()
JSON = {"Content-Type": "application/json"}


def basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def center(tmp_path: Path) -> Iterator[AlertCenter]:
    store = StateStore(tmp_path / "alerts.sqlite")
    routing = AlertRouting({"log": Receiver("log", "log", LogSpec())}, Route("log"))
    yield AlertCenter(store, routing, registry=CollectorRegistry())
    store.close()


def client(
    center: AlertCenter,
    *,
    read: ReadAuth | None = None,
    write: ReadAuth | None = None,
    now: float = T0,
) -> httpx.AsyncClient:
    read, write = read or ReadAuth(), write or ReadAuth()
    app = create_app(
        CollectorRegistry(),
        routers=[
            silence_router(center, WriteAccess(write), clock=lambda: now),
            alerts_router(lambda: center.active(now)),
        ],
        auth=AnyAuth(read, write),
    )
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://sloguard")


def burn(center: AlertCenter, at: float) -> str:
    """Make the checkout SLO fire its critical alert; return its fingerprint."""
    windows = {w: Counts(5000, 1e5) for w in SLO.windows()}
    ev = evaluate(objective=SLO.objective, period=SLO.period, policy=SLO.alerting.policy,
                  windows=windows)  # fmt: skip
    [n] = center.process([InstanceResult(SLO, SLOInstance.of("checkout", {}), ev, at)], at)
    return n.fingerprint


SILENCE: dict[str, Any] = {
    "matchers": [
        "slo=checkout",
        {"name": "severity", "value": "critical|warning", "isRegex": True},
    ],
    "duration": "2h",
    "created_by": "ana",
    "comment": "database upgrade",
}


async def test_create_list_and_expire(center: AlertCenter) -> None:
    async with client(center) as c:
        created = await c.post("/api/v1/silences", json=SILENCE)
        assert created.status_code == 201, created.text
        s = created.json()["silence"]
        assert (s["starts_at"], s["ends_at"], s["status"]) == (T0, T0 + 7200, "active")
        assert s["matchers"] == [
            {"name": "slo", "type": "=", "value": "checkout"},
            {"name": "severity", "type": "=~", "value": "critical|warning"},
        ]
        window = await c.post(
            "/api/v1/silences",
            json={**SILENCE, "starts_at": "2027-03-01T08:00:00Z", "ends_at": "2027-03-01T09:30Z"},
        )
        assert window.json()["silence"]["status"] == "pending"  # a maintenance window
        listed = (await c.get("/api/v1/silences")).json()["silences"]
        assert [x["status"] for x in listed] == ["pending", "active"]
        active = (await c.get("/api/v1/silences", params={"state": "active"})).json()
        assert [x["id"] for x in active["silences"]] == [s["id"]]
        gone = await c.delete(f"/api/v1/silences/{s['id']}")
        assert gone.json()["silence"]["status"] == "expired"
        assert (await c.get("/api/v1/silences", params={"state": "expired"})).json()["silences"][0][
            "id"
        ] == s["id"]  # kept for audit
        missing = await c.delete("/api/v1/silences/nope")
        assert (missing.status_code, missing.json()["detail"]) == (404, "no silence with id 'nope'")
    # stored: a new center over the same store sees them
    assert len(AlertCenter(center.store, center.routing).silences.all()) == 2


@pytest.mark.parametrize(
    ("change", "status", "detail"),
    [
        ({"matchers": ["slo"]}, 400, "matchers[0]: matcher 'slo': expected name=value"),
        ({"matchers": ["slo=~("]}, 400, "matchers[0]: matcher slo=~'(': bad regex"),
        ({"matchers": [{"name": "slo"}]}, 400, "matchers[0]: matcher {'name': 'slo'}: missing"),
        ({"matchers": "slo=x"}, 400, "matchers: expected a list of matchers"),
        ({"matchers": ["team=~.*"]}, 400, "matchers: at least one matcher must not match"),
        ({"duration": None}, 400, "ends_at: give ends_at or duration"),
        ({"duration": "2 hours"}, 400, "duration: "),
        ({"ends_at": "tomorrow"}, 400, "ends_at: 'tomorrow' is not an RFC 3339 time"),
        (
            {"ends_at": "2027-01-15T08:00:00"},
            400,
            "ends_at: '2027-01-15T08:00:00' has no time zone",
        ),
        ({"ends_at": T0 - 1}, 400, "ends_at: the end must be after the start"),
        ({"comment": ""}, 400, "comment: say why"),
        ({"created_by": 7}, 400, "created_by: expected text, got 7"),
        ({"created_by": None}, 400, "created_by: say who creates the silence"),
    ],
)
async def test_a_bad_silence_is_refused_naming_the_field(
    center: AlertCenter, change: dict[str, Any], status: int, detail: str
) -> None:
    async with client(center) as c:
        answer = await c.post("/api/v1/silences", json={**SILENCE, **change})
    assert answer.status_code == status
    assert answer.json()["detail"].startswith(detail), answer.json()["detail"]


async def test_writes_must_be_json_objects(center: AlertCenter) -> None:
    async with client(center) as c:
        form = await c.post("/api/v1/silences", data={"matchers": "slo=x"})
        assert (form.status_code, form.json()["detail"]) == (
            415, "send the body as JSON (Content-Type: application/json)"
        )  # fmt: skip
        broken = await c.post("/api/v1/silences", content=b"{", headers=JSON)
        assert (broken.status_code, broken.json()["detail"]) == (400, "the body is not valid JSON")
        listed = await c.post("/api/v1/silences", content=b"[]", headers=JSON)
        assert listed.json()["detail"] == "the body must be a JSON object"
        bad_state = await c.get("/api/v1/silences", params={"state": "old"})
        assert bad_state.status_code == 400


async def test_acknowledge_a_firing_alert(center: AlertCenter) -> None:
    async with client(center) as c:
        missing = await c.post("/api/v1/alerts/0123456789abcdef/ack", json={"by": "ana"})
        assert missing.status_code == 404
        assert missing.json()["detail"] == "no firing alert has the fingerprint '0123456789abcdef'"
        fp = burn(center, T0)
        nobody = await c.post(f"/api/v1/alerts/{fp}/ack", json={"comment": "x"})
        assert (nobody.status_code, nobody.json()["detail"]) == (400, "by: say who acknowledges")
        acked = await c.post(f"/api/v1/alerts/{fp}/ack", json={"by": "ana", "comment": "on it"})
        assert acked.status_code == 200, acked.text
        assert acked.json()["alert"]["acknowledged_by"] == "ana"
        [alert] = [a for a in (await c.get("/api/v1/alerts")).json()["alerts"]
                   if a["fingerprint"] == fp]  # fmt: skip
        assert (alert["acknowledged_by"], alert["acknowledged_at"]) == ("ana", T0)
        assert alert["silenced_by"] == []
        s = (await c.post("/api/v1/silences", json=SILENCE)).json()["silence"]
        [alert] = [a for a in (await c.get("/api/v1/alerts")).json()["alerts"]
                   if a["fingerprint"] == fp]  # fmt: skip
        assert alert["silenced_by"] == [s["id"]]


async def test_writes_need_the_ingest_token_or_a_user(center: AlertCenter) -> None:
    read = ReadAuth(token=READ, users={"alice": HASH})
    write = ReadAuth(token=INGEST, users={"alice": HASH})
    async with client(center, read=read, write=write) as c:
        # the read token reads but does not write; nothing at all does neither
        assert (await c.get("/api/v1/silences", headers=bearer(READ))).status_code == 200
        assert (await c.get("/api/v1/silences")).status_code == 401
        refused = await c.post("/api/v1/silences", json=SILENCE, headers=bearer(READ))
        assert refused.status_code == 401
        assert "writing needs the ingest token" in refused.json()["detail"]
        # the ingest token writes (and may read)
        ok = await c.post("/api/v1/silences", json=SILENCE, headers=bearer(INGEST))
        assert ok.status_code == 201
        assert (await c.get("/api/v1/silences", headers=bearer(INGEST))).status_code == 200
        # a person logged in to the page writes, and is the author by default
        person = await c.post(
            "/api/v1/silences",
            json={**SILENCE, "created_by": None},
            headers=basic("alice", PASSWORD),
        )
        assert person.status_code == 201
        assert person.json()["silence"]["created_by"] == "alice"
        sid = person.json()["silence"]["id"]
        assert (await c.delete(f"/api/v1/silences/{sid}", headers=bearer(READ))).status_code == 401
        assert (
            await c.delete(f"/api/v1/silences/{sid}", headers=bearer(INGEST))
        ).status_code == 200


async def test_without_write_credentials_writes_need_what_reads_need(center: AlertCenter) -> None:
    async with client(center, read=ReadAuth(token=READ)) as c:
        assert (await c.post("/api/v1/silences", json=SILENCE)).status_code == 401
        ok = await c.post("/api/v1/silences", json=SILENCE, headers=bearer(READ))
        assert ok.status_code == 201


async def test_slos_say_whether_their_alert_is_silenced_or_acknowledged(
    center: AlertCenter,
) -> None:
    from sloguard.web.sloapi import slo_router

    windows = {w: Counts(5000, 1e5) for w in SLO.windows()}
    ev = evaluate(objective=SLO.objective, period=SLO.period, policy=SLO.alerting.policy,
                  windows=windows)  # fmt: skip
    result = InstanceResult(SLO, SLOInstance.of("checkout", {}), ev, T0)
    [n] = center.process([result], T0)
    app = create_app(
        CollectorRegistry(),
        routers=[
            slo_router(lambda: [result], lambda: center.active(T0)),
            silence_router(center, WriteAccess(ReadAuth()), clock=lambda: T0),
        ],
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://sloguard") as c:

        async def flags() -> tuple[bool, bool]:
            [item] = (await c.get("/api/v1/slos")).json()["slos"]
            return item["silenced"], item["acknowledged"]

        assert await flags() == (False, False)
        await c.post(f"/api/v1/alerts/{n.fingerprint}/ack", json={"by": "ana"})
        assert await flags() == (False, True)
        await c.post("/api/v1/silences", json=SILENCE)
        assert await flags() == (True, True)
