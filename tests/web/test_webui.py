"""The daemon's web page, in headless Chromium (Debian's ``chromium``, driven by Playwright).

A real ``sloguard run`` (embedded SLI source, 1 s evaluations) gets a failing billing agent and a
healthy shipping agent through ``/v1/events``, and two traces through ``/v1/a2a/traces``. The
page must then show what the API says: billing burning with its alerts, budget bars as wide as
the budget left, the stored traces, a failed trace's tree, its comparison with the good run and
its diagram. Screenshots are decoded (Pillow) and checked for the colours that carry meaning:
a green bar for a full budget, none for an exhausted one, red failure arrows in the diagram.

Without Chromium or Playwright the browser tests skip, except under CI, where they fail.
"""

from __future__ import annotations

import io
import os
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.processes import _stderr, _wait_healthy, free_port
from tests.support.traces import build, row, seed_workflow

CHROMIUM = Path("/usr/bin/chromium")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
GREEN = (0x2E, 0x7D, 0x32)  # .fill (budget left)
RED = (0xD3, 0x2F, 0x2F)  # failure arrows in the diagram
AGENT_BOX = (0xE3, 0xF2, 0xFD)

SLOS = """\
slos:
  - name: agent-availability
    objective: 99
    period: 1h
    sli: {kind: success_rate}
    group_by: [agent_name]
    min_events: 5
"""


def _unavailable(why: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"browser test cannot run under CI: {why}")
    pytest.skip(why)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        _unavailable(f"{CHROMIUM} is missing (Debian package chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("playwright is not installed (dev extra)")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS)
        yield b
        b.close()


def _events() -> list[dict[str, Any]]:
    calls = [("billing", "error" if i % 2 else "success") for i in range(40)]
    calls += [("shipping", "success")] * 40
    return [
        {"type": "agent_call", "agent": a, "status": s, "duration_seconds": 0.2} for a, s in calls
    ]


def _failed_trace() -> dict[str, Any]:
    return build(
        "wf-bad",
        [
            row("s1", None, "AGENT", "supervisor", 0, 900),
            row("s2", "s1", "TOOL", "classify_intent", 5, 40),
            row("s3", "s1", "AGENT", "billing", 60, 800, error="WorkerError: billing failed"),
            row("s4", "s3", "TOOL", "lookup_invoice", 70, 700, error="TimeoutError: db timed out"),
        ],
    ).as_dict()


def _wait(what: str, check: Any, tmp: Path, timeout: float = 60) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = check()
        if got:
            return got
        time.sleep(0.3)
    pytest.fail(f"timed out waiting for {what}:\n{_stderr(tmp)}")


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    from contextlib import contextmanager

    from tests.support import processes

    tmp = tmp_path_factory.mktemp("webui")
    (tmp / "slos.yaml").write_text(SLOS, encoding="utf-8")
    (tmp / "sloguard.yaml").write_text(
        f"slo_files: [{tmp / 'slos.yaml'}]\nevaluation_interval: 1\n", encoding="utf-8"
    )
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with contextmanager(processes.spawning)(tmp) as spawn:
        proc = spawn("run", "--config", str(tmp / "sloguard.yaml"), "--port", str(port))
        _wait_healthy(proc, base, tmp)
        for body in ({"events": _events()[:40]}, {"events": _events()[40:]}):
            assert httpx.post(f"{base}/v1/events", json=body, timeout=10).status_code == 200
        for trace in (seed_workflow("wf-good").as_dict(), _failed_trace()):
            assert httpx.post(f"{base}/v1/a2a/traces", json=trace, timeout=10).status_code == 200

        def burning() -> bool:
            slos = httpx.get(f"{base}/api/v1/slos", timeout=5).json()["slos"]
            alerts = httpx.get(f"{base}/api/v1/alerts", timeout=5).json()["alerts"]
            states = {s["instance"].get("agent_name"): s["state"] for s in slos}
            return states.get("billing") == "burning" and bool(alerts)

        _wait("billing to burn and alert", burning, tmp)
        yield base


@pytest.fixture(scope="module")
def exporter(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    from contextlib import contextmanager

    from tests.support import processes

    tmp = tmp_path_factory.mktemp("webui-exporter")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with contextmanager(processes.spawning)(tmp) as spawn:
        proc = spawn("run", "--mode", "exporter", "--port", str(port), "--data-dir", str(tmp))
        _wait_healthy(proc, base, tmp)
        yield base


class Page:
    """One browser page that records console errors (CSP violations show up there)."""

    def __init__(self, browser: Any, url: str) -> None:
        self.page = browser.new_page(viewport={"width": 1280, "height": 900})
        self.errors: list[str] = []
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.goto(url)
        self.page.wait_for_selector("body[data-ready=true]", timeout=20_000)

    def pixels(self, selector: str) -> Any:
        from PIL import Image

        png = self.page.locator(selector).screenshot()
        return Image.open(io.BytesIO(png)).convert("RGB")


def expect(locator: Any) -> Any:
    """Playwright's retrying assertions (polling with JS strings is refused by the page's CSP)."""
    from playwright.sync_api import expect as playwright_expect

    playwright_expect.set_options(timeout=20_000)
    return playwright_expect(locator)


def _share(img: Any, colour: tuple[int, int, int], tolerance: int = 12) -> float:
    """Fraction of pixels within ``tolerance`` of ``colour``."""
    raw = img.tobytes()
    pixels = [raw[i : i + 3] for i in range(0, len(raw), 3)]
    near = sum(all(abs(p[i] - colour[i]) <= tolerance for i in range(3)) for p in pixels)
    return near / len(pixels)


def test_slos_show_state_alerts_and_budget_bars(browser: Any, daemon: str) -> None:
    api = {
        s["instance"]["agent_name"]: s
        for s in httpx.get(f"{daemon}/api/v1/slos", timeout=5).json()["slos"]
    }
    p = Page(browser, f"{daemon}/ui/")
    page = p.page
    rows = page.locator("#slo-table tbody tr")
    assert rows.count() == len(api)  # the posted traces' agents have instances too
    billing = page.locator("#slo-table tr:has-text('agent_name=billing')")
    shipping = page.locator("#slo-table tr:has-text('agent_name=shipping')")
    assert billing.get_attribute("data-state") == "burning"
    assert int(billing.get_attribute("data-alerts") or 0) >= 1
    assert "critical" in billing.locator("td").nth(7).inner_text()
    assert shipping.get_attribute("data-state") == "ok"
    assert shipping.locator("td").nth(7).inner_text() == "—"
    # The bars are as wide as the budget the API reports (clamped to 0..1).
    for name, locator in (("billing", billing), ("shipping", shipping)):
        remaining = api[name]["error_budget_remaining"]
        bar = locator.locator(".bar")
        assert float(bar.get_attribute("data-remaining") or "nan") == pytest.approx(remaining)
        outer = bar.bounding_box()
        inner = bar.locator(".fill").bounding_box()
        assert outer is not None and inner is not None
        expected = max(0.0, min(1.0, remaining))
        assert inner["width"] / outer["width"] == pytest.approx(expected, abs=0.02)
    assert billing.locator(".budget .label").inner_text() == "exhausted"
    # Screenshot check: a full budget is a green bar (but its rounded, antialiased ends);
    # an exhausted one shows no green at all.
    assert _share(p.pixels("#slo-table tr:has-text('agent_name=shipping') .bar"), GREEN) > 0.8
    assert _share(p.pixels("#slo-table tr:has-text('agent_name=billing') .bar"), GREEN) == 0
    assert p.errors == []


def test_traces_list_filter_and_detail(browser: Any, daemon: str) -> None:
    p = Page(browser, f"{daemon}/ui/")
    page = p.page
    ids = page.locator("#trace-table tbody tr").evaluate_all(
        "rows => rows.map(r => r.dataset.trace)"
    )
    assert sorted(ids) == ["wf-bad", "wf-good"]
    page.check("#failed-only")
    expect(page.locator("#trace-table tbody tr")).to_have_count(1)
    assert page.locator("#trace-table tbody tr").get_attribute("data-trace") == "wf-bad"

    page.click("#trace-table a:has-text('wf-bad')")
    page.wait_for_selector("#first-divergence")
    assert page.url.endswith("/ui/#/traces/wf-bad")
    tree = page.locator("#tree").inner_text()
    assert "lookup_invoice (tool, failed, 700 ms): TimeoutError: db timed out" in tree
    assert page.locator("#first-divergence a").inner_text() == "wf-good"
    summary = page.locator("#trace-summary").inner_text()
    assert "failed" in summary and "supervisor" in summary
    expect(page.locator("#mermaid")).to_have_text(re.compile(r"^sequenceDiagram\n"))

    # The diagram is the daemon's SVG, loaded and drawn at its own size.
    svg = httpx.get(f"{daemon}/api/v1/traces/wf-bad/svg", timeout=5)
    assert svg.headers["content-type"].startswith("image/svg+xml")
    expect(page.locator("#diagram")).to_have_js_property("complete", True)
    natural = page.eval_on_selector("#diagram", "img => [img.naturalWidth, img.naturalHeight]")
    width = float(svg.text.split('width="', 1)[1].split('"', 1)[0])
    assert natural[0] == pytest.approx(width)
    shot = p.pixels("#diagram")
    assert _share(shot, RED, tolerance=20) > 0.0005, "no red failure arrow drawn"
    assert _share(shot, AGENT_BOX, tolerance=4) > 0.01, "no agent box drawn"
    raw = shot.tobytes()
    colours = {raw[i : i + 3] for i in range(0, len(raw), 3)}
    assert len(colours) > 20, "the diagram screenshot is blank"
    assert p.errors == []


def test_unknown_trace_says_so(browser: Any, daemon: str) -> None:
    p = Page(browser, f"{daemon}/ui/#/traces/no-such-trace")
    expect(p.page.locator("#trace-note")).to_have_text("no stored trace with id 'no-such-trace'")
    assert p.page.locator("#tree").inner_text() == ""
    # the 404 of the API call is the only console error
    assert all("404" in e for e in p.errors)


def test_exporter_mode_page_explains_missing_slos(browser: Any, exporter: str) -> None:
    p = Page(browser, f"{exporter}/ui/")
    note = p.page.locator("#slos-note")
    assert note.is_visible()
    assert "not running" in note.inner_text()
    assert p.page.locator("#traces-note").inner_text() == "No stored trace matches."
    assert all("404" in e for e in p.errors)


# --- plain HTTP: routes, headers (no browser needed) ---------------------------------------
def test_routes_and_security_headers(daemon: str) -> None:
    r = httpx.get(f"{daemon}/", timeout=5)
    assert r.status_code == 307 and r.headers["location"] == "/ui/"
    page = httpx.get(f"{daemon}/ui/", timeout=5)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "default-src 'none'" in csp
    assert page.headers["x-content-type-options"] == "nosniff"
    assert httpx.head(f"{daemon}/ui/", timeout=5).status_code == 200
    js = httpx.get(f"{daemon}/ui/static/app.js", timeout=5)
    assert js.headers["content-type"].startswith("text/javascript")
    # data is written with textContent only: no HTML parsing of strings anywhere
    assert not re.search(r"\.innerHTML|\.outerHTML|insertAdjacentHTML|document\.write", js.text)
    missing = httpx.get(f"{daemon}/ui/static/secrets.txt", timeout=5)
    assert missing.status_code == 404
    assert missing.json()["detail"] == "no static file 'secrets.txt'"
    assert httpx.get(f"{daemon}/api/v1/traces/nope/svg", timeout=5).status_code == 404
