"""The page's history chart, in headless Chromium (Debian's ``chromium``, driven by Playwright).

A real ``sloguard run`` (embedded SLI source, 1 s evaluations) gets a failing billing agent
through ``/v1/events`` and pages. The SLO table links to billing's history; the page then shows
the daemon's SVG chart (budget line, 0 line, burn-rate lines, dashed thresholds, the alert
marker), its summary in words and every point as a table. The screenshot is decoded (Pillow)
and checked for the colours that carry meaning: the blue budget line, and the red marker of
the critical alert in the strip above the budget panel, where nothing else is red.

Without Chromium or Playwright the browser tests skip, except under CI, where they fail.
"""

from __future__ import annotations

import io
import os
import re
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from sloguard.web.charts import BUDGET_COLOUR, SEVERITY_COLOUR, TOP
from tests.support import processes
from tests.support.processes import _stderr, _wait_healthy, free_port

CHROMIUM = Path("/usr/bin/chromium")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SLOS = """\
slos:
  - name: agent-availability
    objective: 99
    period: 1h
    sli: {kind: success_rate}
    group_by: [agent_name]
    min_events: 5
"""
HISTORY = "#/slos/agent-availability?agent_name=billing&range=30s"
SVG = "{http://www.w3.org/2000/svg}"


def _rgb(colour: str) -> tuple[int, int, int]:
    return int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16)


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


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    tmp = tmp_path_factory.mktemp("history-page")
    (tmp / "slos.yaml").write_text(SLOS, encoding="utf-8")
    (tmp / "sloguard.yaml").write_text(
        f"slo_files: [{tmp / 'slos.yaml'}]\nevaluation_interval: 1\n", encoding="utf-8"
    )
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with contextmanager(processes.spawning)(tmp) as spawn:
        proc = spawn("run", "--config", str(tmp / "sloguard.yaml"), "--port", str(port))
        _wait_healthy(proc, base, tmp)
        time.sleep(2)  # a few samples before the incident: the chart starts with a full budget
        for agent, ok in (("shipping", True), ("billing", False)):
            events = [
                {"type": "agent_call", "agent": agent, "duration_seconds": 0.2,
                 "status": "success" if ok or i % 2 else "error"}
                for i in range(40)
            ]  # fmt: skip
            r = httpx.post(f"{base}/v1/events", json={"events": events}, timeout=10)
            assert r.status_code == 200

        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            alerts = httpx.get(f"{base}/api/v1/alerts", timeout=5).json()["alerts"]
            if any(a["labels"].get("agent_name") == "billing" for a in alerts):
                break
            time.sleep(0.3)
        else:
            pytest.fail(f"billing never paged:\n{_stderr(tmp)}")
        time.sleep(6)  # more evaluations after the page: a line, and the marker inside the range
        yield base


def _count(img: Any, colour: tuple[int, int, int], tolerance: int = 30) -> int:
    """Pixels within ``tolerance`` of ``colour``."""
    raw = img.tobytes()
    pixels = [raw[i : i + 3] for i in range(0, len(raw), 3)]
    return sum(all(abs(p[i] - colour[i]) <= tolerance for i in range(3)) for p in pixels)


def test_the_slo_table_links_to_a_chart_with_budget_line_and_alert_marker(
    browser: Any, daemon: str
) -> None:
    from PIL import Image
    from playwright.sync_api import expect

    expect.set_options(timeout=20_000)
    page = browser.new_page(viewport={"width": 1280, "height": 1000})
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(f"{daemon}/ui/")
    page.wait_for_selector("body[data-ready=true]", timeout=20_000)
    expect(page.locator("#history")).to_be_hidden()

    # The SLO's name in the table is the way in.
    page.click("#slo-table tr:has-text('agent_name=billing') a:has-text('agent-availability')")
    expect(page.locator("#history")).to_have_attribute("data-loaded", "true")
    assert "#/slos/agent-availability?agent_name=billing" in page.url
    # Now the range asked: the last 30 seconds, incident included.
    page.goto(f"{daemon}/ui/{HISTORY}")
    expect(page.locator("#history")).to_have_attribute("data-chart", "loaded")
    expect(page.locator("#history-name")).to_have_text("agent-availability (agent_name=billing)")
    assert page.locator("#history-span").input_value() == "30s"

    img = page.locator("#history-chart")
    alt = img.get_attribute("alt") or ""
    assert alt.startswith("Chart of SLO agent-availability: error budget remaining")
    summary = page.locator("#history-summary").inner_text()
    assert summary.startswith("Error budget remaining went from") and "1 fired" in summary
    fired = page.locator("#history-alerts li.alert-moment.fired")
    assert fired.count() >= 1
    assert "SLOBurn critical fired" in fired.first.inner_text()
    api = httpx.get(
        f"{daemon}/api/v1/slos/agent-availability/history",
        params={"agent_name": "billing", "range": "30s"},
        timeout=10,
    ).json()
    points = api["instances"][0]["points"]
    assert page.locator("#history-table tbody tr").count() == len(points) == 31  # as text

    # The chart the page shows is the API's SVG: read it back.
    src = img.get_attribute("src") or ""
    svg = httpx.get(src, timeout=10)
    root = ET.fromstring(svg.text)
    desc = root.findtext(f"{SVG}desc") or ""  # a second later: the same words, maybe new numbers
    assert desc.startswith("Error budget remaining went from") and "1 fired" in desc
    budget = root.find(f".//{SVG}path[@class='budget']")
    # the daemon is seconds old: only the last points have data (the earlier ones are a gap)
    assert budget is not None and budget.get("d", "").count("L") >= 4
    assert next(g.get("class") for g in root.iter(f"{SVG}g")) == "alert fired critical"
    natural = page.eval_on_selector("#history-chart", "i => [i.naturalWidth, i.naturalHeight]")
    assert natural == [int(root.get("width", "0")), int(root.get("height", "0"))]

    # Screenshot check: the budget line is drawn (blue), the marker is red above the panel.
    shot = Image.open(io.BytesIO(img.screenshot())).convert("RGB")
    assert abs(shot.width - natural[0]) <= 1 and abs(shot.height - natural[1]) <= 1  # subpixels
    assert _count(shot, _rgb(BUDGET_COLOUR)) >= 100, "no budget line drawn"
    strip = shot.crop((0, TOP - 14, shot.width, TOP - 3))
    red = _rgb(SEVERITY_COLOUR["critical"])
    assert _count(strip, red) >= 20, "no critical alert marker drawn"
    assert _count(strip, _rgb(BUDGET_COLOUR)) == 0  # the strip holds markers only
    assert errors == []


def test_the_history_script_is_served_and_writes_text_only(daemon: str) -> None:
    js = httpx.get(f"{daemon}/ui/static/history.js", timeout=5)
    assert js.status_code == 200 and js.headers["content-type"].startswith("text/javascript")
    assert "script-src 'self'" in js.headers["content-security-policy"]
    # data is written with textContent only: no HTML parsing of strings anywhere
    assert not re.search(r"\.innerHTML|\.outerHTML|insertAdjacentHTML|document\.write", js.text)
    page = httpx.get(f"{daemon}/ui/", timeout=5).text
    assert '<script src="static/history.js" defer></script>' in page
