"""Reads need credentials once configured (issue 13, defect 6b/6c): token, basic auth, TLS.

In-process (httpx over ASGI) for the rules; one real uvicorn over HTTPS, with a certificate made
by ``openssl`` on 127.0.0.1, for the daemon's TLS wiring.
"""

from __future__ import annotations

import asyncio
import base64
import re
import shutil
import ssl
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import bcrypt
import httpx
import pytest
from prometheus_client import CollectorRegistry

from sloguard.daemon import build, serve
from sloguard.ingest.router import ingest_router
from sloguard.sdk.metrics import AgentMetrics
from sloguard.sdk.recorder import Recorder
from sloguard.settings.model import load_settings
from sloguard.tracestore.store import TraceStore
from sloguard.web.auth import ReadAuth
from sloguard.web.server import create_app
from sloguard.web.tracesapi import traces_router
from sloguard.web.ui import ui_router
from tests.support.processes import free_port

READ_TOKEN = "read-token-0123456789abcdef"
INGEST_TOKEN = "ingest-token-0123456789abcdef"
PASSWORD = "correct horse battery staple"
# Cost 4, the lowest: the rules are the same at any cost, and the tests stay fast.
HASH = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(4)).decode()
EVENT = {"type": "agent_call", "agent": "a", "status": "success", "duration_seconds": 1}
#: Every read the daemon serves, and whether it stays open when reads need credentials.
READS = [
    ("/api/v1/traces", False),
    ("/ui/", False),
    ("/ui/static/app.js", False),
    ("/", False),
    ("/openapi.json", False),
    ("/metrics", False),
    ("/healthz", True),
    ("/readyz", True),
]


def basic(user: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


BEARER = {"Authorization": f"Bearer {READ_TOKEN}"}


def app_client(tmp_path: Path, auth: ReadAuth | None, *, docs: bool = False) -> httpx.AsyncClient:
    registry = CollectorRegistry()
    recorder = Recorder(AgentMetrics(registry=registry))
    routers = [
        traces_router(TraceStore(tmp_path / "traces.sqlite")),
        ui_router(),
        ingest_router(recorder, token=INGEST_TOKEN),
    ]
    app = create_app(registry, routers=routers, auth=auth, docs=docs)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://sloguard")


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    async with app_client(tmp_path, ReadAuth(token=READ_TOKEN, users={"alice": HASH})) as c:
        yield c


# --- the rules ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("path", "is_open"), READS)
async def test_reads_need_credentials_except_the_probes(
    client: httpx.AsyncClient, path: str, is_open: bool
) -> None:
    r = await client.get(path)
    if is_open:
        assert r.status_code in (200, 503), r.text
        return
    assert r.status_code == 401
    assert r.json() == {"detail": "authentication required"}
    assert r.headers.get_list("www-authenticate") == [
        'Basic realm="sloguard", charset="UTF-8"',
        'Bearer realm="sloguard"',
    ]
    for headers in (BEARER, basic("alice", PASSWORD)):
        ok = await client.get(path, headers=headers)
        assert ok.status_code in (200, 307), (path, ok.status_code)


@pytest.mark.parametrize(
    "headers",
    [
        {"Authorization": "Bearer wrong"},
        {"Authorization": f"Bearer {INGEST_TOKEN}"},  # the ingest token does not read
        basic("alice", "wrong"),
        basic("mallory", PASSWORD),
        {"Authorization": "Basic not-base64!"},
        {"Authorization": "Basic " + base64.b64encode(b"no-colon").decode()},
        {"Authorization": f"Token {READ_TOKEN}"},
        {"Authorization": ""},
    ],
)
async def test_wrong_credentials_are_refused(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    assert (await client.get("/api/v1/traces", headers=headers)).status_code == 401


async def test_the_ingest_keeps_its_own_token(client: httpx.AsyncClient) -> None:
    body = {"events": [EVENT]}
    assert (await client.post("/v1/events", json=body)).status_code == 401
    r = await client.post(
        "/v1/events", json=body, headers={"Authorization": f"Bearer {INGEST_TOKEN}"}
    )
    assert r.status_code == 200, r.text


async def test_without_credentials_configured_everything_reads_as_before(tmp_path: Path) -> None:
    for auth in (None, ReadAuth()):
        async with app_client(tmp_path, auth) as c:
            assert (await c.get("/api/v1/traces")).status_code == 200
            assert (await c.get("/metrics")).status_code == 200


async def test_metrics_can_stay_open_for_a_scraper_without_credentials() -> None:
    registry = CollectorRegistry()
    app = create_app(registry, auth=ReadAuth(token=READ_TOKEN), open_metrics=True)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://sloguard") as c:
        assert (await c.get("/metrics")).status_code == 200
        assert (await c.get("/openapi.json")).status_code == 401


def test_a_passed_header_is_remembered_and_a_failed_one_is_not() -> None:
    auth = ReadAuth(users={"alice": HASH})
    good, bad = basic("alice", PASSWORD)["Authorization"], basic("alice", "x")["Authorization"]
    assert not auth.remembered(good)
    assert auth.check(good) and auth.remembered(good)
    assert not auth.check(bad) and not auth.remembered(bad)
    only_token = ReadAuth(token=READ_TOKEN)
    assert not only_token.check(good)  # no users: basic auth never passes
    assert only_token.challenges == ['Bearer realm="sloguard"']


# --- the API docs (defect 6c) ------------------------------------------------------------------

#: A URL with a host in a page: a script, style, image or link from elsewhere. The SVG namespace
#: is a name, never fetched.
_EXTERNAL = re.compile(r"(?:https?:)?//(?!www\.w3\.org/2000/svg)[A-Za-z0-9.-]+\.[A-Za-z]{2,}")


async def test_fastapi_docs_are_off_and_our_docs_page_is_opt_in(tmp_path: Path) -> None:
    async with app_client(tmp_path, None) as c:
        for path in ("/docs", "/redoc", "/docs/oauth2-redirect"):
            assert (await c.get(path)).status_code == 404, path
        assert (await c.get("/openapi.json")).status_code == 200
    auth = ReadAuth(token=READ_TOKEN)
    async with app_client(tmp_path, auth, docs=True) as c:
        assert (await c.get("/docs")).status_code == 401  # behind the read auth
        page = await c.get("/docs", headers=BEARER)
    assert page.status_code == 200
    assert "POST /v1/events" in page.text and 'href="openapi.json"' in page.text
    assert "<script" not in page.text
    assert "script-src" not in page.headers["content-security-policy"]


async def test_no_page_references_an_external_host(tmp_path: Path) -> None:
    async with app_client(tmp_path, None, docs=True) as c:
        pages = ["/ui/", "/docs"] + [f"/ui/static/{n}" for n in ("app.js", "style.css", "icon.svg")]
        for path in pages:
            r = await c.get(path)
            assert r.status_code == 200, path
            assert not _EXTERNAL.findall(r.text), (path, _EXTERNAL.findall(r.text))


# --- the daemon: settings → auth and HTTPS ------------------------------------------------------


def _web_config(tmp_path: Path, *, tls: bool) -> Path:
    lines = ["basic_auth_users:", f"  alice: '{HASH}'"]
    if tls:
        lines += ["tls_server_config:", "  cert_file: server.crt", "  key_file: server.key"]
    path = tmp_path / "web.yml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


async def test_the_daemon_guards_reads_with_the_settings(tmp_path: Path) -> None:
    config = _web_config(tmp_path, tls=False)
    env = {
        "SLOGUARD_INGEST__TOKEN": INGEST_TOKEN,
        "SLOGUARD_WEB__READ_TOKEN": READ_TOKEN,
        "SLOGUARD_WEB__CONFIG_FILE": str(config),
        "SLOGUARD_DATA_DIR": str(tmp_path / "data"),
        "SLOGUARD_MODE": "exporter",
    }
    daemon = build(load_settings(None, env), registry=CollectorRegistry())
    transport = httpx.ASGITransport(app=daemon.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://sloguard") as c:
        assert (await c.get("/api/v1/traces")).status_code == 401
        assert (await c.get("/ui/")).status_code == 401
        assert (await c.get("/openapi.json")).status_code == 401
        assert (await c.get("/api/v1/traces", headers=BEARER)).status_code == 200
        assert (await c.get("/ui/", headers=basic("alice", PASSWORD))).status_code == 200
        assert (await c.get("/docs", headers=BEARER)).status_code == 404  # off by default


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl is not installed")
    root = tmp_path_factory.mktemp("pki")
    subprocess.run(
        [
            openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
            "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
            "-keyout", str(root / "server.key"), "-out", str(root / "server.crt"),
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return root


async def test_the_daemon_serves_https_with_the_web_config_certificate(pki: Path) -> None:
    config = _web_config(pki, tls=True)
    port = free_port()
    env = {
        "SLOGUARD_WEB__CONFIG_FILE": str(config),
        "SLOGUARD_DATA_DIR": str(pki / "data"),
        "SLOGUARD_MODE": "exporter",
        "SLOGUARD_PORT": str(port),
    }
    daemon = build(load_settings(None, env), registry=CollectorRegistry())
    stop = asyncio.Event()
    server = asyncio.create_task(serve(daemon, until=stop))
    try:
        for _ in range(200):
            if daemon.readiness.is_set():
                break
            await asyncio.sleep(0.05)
        base = f"https://127.0.0.1:{port}"
        trust = ssl.create_default_context(cafile=pki / "server.crt")
        async with httpx.AsyncClient(verify=trust, timeout=5) as c:
            assert (await c.get(f"{base}/healthz")).status_code == 200
            assert (await c.get(f"{base}/api/v1/traces")).status_code == 401
            r = await c.get(f"{base}/api/v1/traces", headers=basic("alice", PASSWORD))
            assert r.status_code == 200
        async with httpx.AsyncClient(timeout=5) as plain:
            with pytest.raises(httpx.HTTPError):  # no plain HTTP on the TLS port
                (await plain.get(f"http://127.0.0.1:{port}/healthz")).raise_for_status()
    finally:
        stop.set()
        await server
