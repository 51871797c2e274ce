"""``sloguard silence add|list|expire`` and ``sloguard ack`` against a daemon's API served by a
real uvicorn (the commands talk HTTP like ``status``); output piped, and every mistake's message."""

from __future__ import annotations

import io
import json
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client import CollectorRegistry

from sloguard.alerting.center import AlertCenter
from sloguard.alerting.silences import parse_matcher
from sloguard.alerting.store import StateStore
from sloguard.cli import main
from sloguard.evaluation.evaluator import InstanceResult
from sloguard.notify.config import AlertRouting, LogSpec, Receiver
from sloguard.notify.routing import Route
from sloguard.slo.budget import Counts, evaluate
from sloguard.slo.spec import SLOInstance
from sloguard.web.auth import ReadAuth
from sloguard.web.server import create_app
from sloguard.web.silenceapi import AnyAuth, WriteAccess, silence_router
from tests.support.processes import free_port
from tests.support.slos import make_slo
from tests.support.uvicornserver import serving

SLO = make_slo("checkout")
TOKEN = "ingest-token-0123456789"


@pytest.fixture
def daemon(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, AlertCenter]]:
    for name in ("SLOGUARD_INGEST__TOKEN", "SLOGUARD_WEB__READ_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    store = StateStore(tmp_path / "alerts.sqlite")
    routing = AlertRouting({"log": Receiver("log", "log", LogSpec())}, Route("log"))
    center = AlertCenter(store, routing)
    write = ReadAuth(token=TOKEN)
    app = create_app(
        CollectorRegistry(),
        routers=[silence_router(center, WriteAccess(write))],
        auth=AnyAuth(ReadAuth(), write),
    )
    with serving(app, free_port()) as url:
        yield url, center
    store.close()


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def test_add_list_expire(
    daemon: tuple[str, AlertCenter], capsys: pytest.CaptureFixture[str]
) -> None:
    url, _ = daemon
    auth = ("--url", url, "--token", TOKEN)
    status, out, err = run(
        capsys,
        "silence",
        "add",
        "slo=checkout",
        "severity=~critical",
        "--duration",
        "2h",
        "--comment",
        "db upgrade",
        "--author",
        "ana",
        *auth,
    )
    assert (status, err) == (0, "")
    sid = out.strip()
    assert len(sid) == 32
    status, out, _ = run(capsys, "silence", "list", *auth)
    [line] = out.splitlines()  # piped: tab-separated, no header
    fields = line.split("\t")
    assert fields[0:2] == [sid, "active"]
    assert fields[4:] == ["ana", 'slo="checkout",severity=~"critical"', "db upgrade"]
    status, out, _ = run(capsys, "silence", "list", "--state", "expired", "--json", *auth)
    assert json.loads(out) == []
    assert run(capsys, "silence", "expire", sid, *auth)[1] == f"expired {sid}\n"
    _, out, _ = run(capsys, "silence", "list", "--json", *auth)
    assert [s["status"] for s in json.loads(out)] == ["expired"]


def test_a_maintenance_window_from_the_command_line(
    daemon: tuple[str, AlertCenter], capsys: pytest.CaptureFixture[str]
) -> None:
    url, _ = daemon
    start = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 86400))
    end = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 90000))
    status, out, _ = run(
        capsys,
        "silence",
        "add",
        "slo=checkout",
        "--start",
        start,
        "--end",
        end,
        "--comment",
        "window",
        "--json",
        "--url",
        url,
        "--token",
        TOKEN,
    )
    assert status == 0
    assert json.loads(out)["status"] == "pending"


def test_ack_a_firing_alert(
    daemon: tuple[str, AlertCenter], capsys: pytest.CaptureFixture[str]
) -> None:
    url, center = daemon
    windows = {w: Counts(5000, 1e5) for w in SLO.windows()}
    ev = evaluate(
        objective=SLO.objective, period=SLO.period, policy=SLO.alerting.policy, windows=windows
    )
    now = time.time()
    [n] = center.process([InstanceResult(SLO, SLOInstance.of("checkout", {}), ev, now)], now)
    capsys.readouterr()  # the center's own log line ("alert fired") is not the command's output
    status, out, err = run(
        capsys,
        "ack",
        n.fingerprint,
        "--author",
        "ana",
        "--comment",
        "on it",
        "--url",
        url,
        "--token",
        TOKEN,
    )
    assert (status, out, err) == (0, f"acknowledged {n.fingerprint} as ana\n", "")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["ack", "0123456789abcdef", "--author", "ana"],
            "/api/v1/alerts/0123456789abcdef/ack: 404 no firing alert has the fingerprint",
        ),
        (
            ["silence", "add", "slo", "--duration", "1h", "--comment", "x"],
            "/api/v1/silences: 400 matchers[0]: matcher 'slo': expected name=value",
        ),
        (["silence", "add", "slo=x", "--comment", "x"], "give --end or --duration"),
        (["silence", "expire", "nope"], "/api/v1/silences/nope: 404 no silence with id 'nope'"),
    ],
)
def test_mistakes_say_what_is_wrong(
    daemon: tuple[str, AlertCenter],
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    message: str,
) -> None:
    url, _ = daemon
    status, out, err = run(capsys, *argv, "--url", url, "--token", TOKEN)
    assert (status, out) == (1, "")
    assert message in err


def test_a_write_without_the_token_says_how_to_give_it(
    daemon: tuple[str, AlertCenter], capsys: pytest.CaptureFixture[str]
) -> None:
    url, _ = daemon
    status, _, err = run(
        capsys, "silence", "add", "slo=x", "--duration", "1h", "--comment", "x", "--url", url
    )
    assert status == 1
    assert "401 writing needs the ingest token" in err
    assert "give --token or set $SLOGUARD_INGEST__TOKEN" in err


def test_status_shows_silenced_and_acknowledged(
    daemon: tuple[str, AlertCenter], capsys: pytest.CaptureFixture[str]
) -> None:
    """The flags ``GET /api/v1/slos`` gives a silenced, acknowledged instance reach the table."""
    from rich.console import Console

    from sloguard.commands.statusview import status_table
    from sloguard.web.sloapi import slo_router

    _, center = daemon
    windows = {w: Counts(5000, 1e5) for w in SLO.windows()}
    ev = evaluate(
        objective=SLO.objective, period=SLO.period, policy=SLO.alerting.policy, windows=windows
    )
    now = time.time()
    result = InstanceResult(SLO, SLOInstance.of("checkout", {}), ev, now)
    [n] = center.process([result], now)
    center.acknowledge(n.fingerprint, "ana", "", now)
    center.silences.add([parse_matcher("slo=checkout")], starts_at=now, ends_at=now + 60,
                        created_by="ana", comment="x", now=now)  # fmt: skip
    app = create_app(CollectorRegistry(), routers=[slo_router(lambda: [result], center.active)])
    with serving(app, free_port()) as url:
        items = httpx.get(f"{url}/api/v1/slos", timeout=5).json()["slos"]
    assert (items[0]["silenced"], items[0]["acknowledged"]) == (False, True)  # as of last tick
    center.process([result], now + 1)  # the next evaluation sees the silence
    with serving(app, free_port()) as url:
        items = httpx.get(f"{url}/api/v1/slos", timeout=5).json()["slos"]
    console = Console(width=80, record=True, file=io.StringIO())
    console.print(status_table(items, 80))
    text = console.export_text()
    assert "silenced" in text and "acknowledged" in text
    # piped: the same flags in the last field of the instance's tab-separated line
    from sloguard.commands.statusview import HEADER, status_lines

    header, line = status_lines(items).splitlines()
    assert header.split("\t")[-1] == "muted" and len(HEADER) == len(line.split("\t"))
    assert line.split("\t")[-1] == "silenced,acknowledged"
