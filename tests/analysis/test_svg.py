"""The SVG sequence diagram: well-formed XML that shows what the Mermaid text says.

The SVG is parsed with a real XML parser (ElementTree); its arrows and notes are read back from
their ``class`` / ``data-*`` attributes and compared with the Mermaid diagram of the same trace
(both are drawn from one model). The page test (tests/web/test_webui.py) renders it in Chromium.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest
from hypothesis import given, settings

from sloguard import ResponseTrace, Telemetry
from sloguard.analysis.views.mermaid import sequence_diagram
from sloguard.analysis.views.svg import sequence_svg
from tests.support.traces import (
    NASTY,
    Row,
    build,
    customer_service,
    random_rows,
    row,
    seed_workflow,
)

SVG = "{http://www.w3.org/2000/svg}"
_ARROW = re.compile(r"^    (\w+)(->>\+|-->>-|--x-)(\w+): (.*)$")
_KIND = {"->>+": "call", "-->>-": "return", "--x-": "fail"}


def _arrows_from_mermaid(text: str) -> list[tuple[str, str, str, str]]:
    out = []
    for line in text.splitlines():
        m = _ARROW.match(line)
        if m:
            out.append((_KIND[m[2]], m[1], m[3], m[4]))
    return out


def _arrows_from_svg(svg: str) -> list[tuple[str, str, str, str]]:
    root = ET.fromstring(svg)
    out = []
    for g in root.iter(f"{SVG}g"):
        classes = g.get("class", "").split()
        if classes and classes[0] == "msg":
            title = g.find(f"{SVG}text/{SVG}title")
            assert title is not None and title.text is not None
            out.append((classes[1], g.get("data-from", ""), g.get("data-to", ""), title.text))
    return out


def _participants(svg: str) -> dict[str, str]:
    root = ET.fromstring(svg)
    names = {}
    for g in root.iter(f"{SVG}g"):
        if g.get("class", "").startswith("head "):
            title = g.find(f"{SVG}text/{SVG}title")
            assert title is not None
            names[g.get("data-id", "")] = title.text or ""
    return names


def _same_as_mermaid(trace: ResponseTrace) -> None:
    svg = sequence_svg(trace)
    assert _arrows_from_svg(svg) == _arrows_from_mermaid(sequence_diagram(trace))


def test_seed_workflow_draws_every_call_and_return() -> None:
    trace = seed_workflow()
    svg = sequence_svg(trace)
    assert svg.startswith("<svg ") and svg.endswith("</svg>")
    names = _participants(svg)
    assert set(names.values()) >= {"supervisor", "researcher", "writer"}
    arrows = _arrows_from_svg(svg)
    assert arrows, "no arrows drawn"
    assert sum(a[0] == "call" for a in arrows) == sum(a[0] != "call" for a in arrows)
    _same_as_mermaid(trace)


def test_failures_are_red_notes_and_crossed_arrows() -> None:
    trace = build(
        "t-fail",
        [
            row("s1", None, "AGENT", "planner", 0, 500),
            row("s2", "s1", "TOOL", "search", 10, 100, error="TimeoutError: slow"),
        ],
    )
    svg = sequence_svg(trace)
    root = ET.fromstring(svg)
    notes = [g for g in root.iter(f"{SVG}g") if g.get("class") == "note failed"]
    assert len(notes) == 1
    title = notes[0].find(f"{SVG}text/{SVG}title")
    assert title is not None and title.text == "failed: TimeoutError: slow"
    assert [a[0] for a in _arrows_from_svg(svg)] == ["call", "fail"]
    assert 'marker-end="url(#x)"' in svg
    _same_as_mermaid(trace)


def test_customer_service_flow_matches_mermaid(telemetry: Telemetry) -> None:
    _same_as_mermaid(customer_service(telemetry))


@pytest.mark.parametrize("name", NASTY)
def test_any_name_stays_well_formed_and_is_shown_whole_in_the_tooltip(name: str) -> None:
    trace = build("t-nasty", [row("s1", None, "AGENT", name, 0, 50, error=name)])
    svg = sequence_svg(trace)
    names = _participants(svg)  # parses: raises on broken XML
    assert list(names.values()) == [" ".join(name.split())]
    assert "<script" not in svg.lower()


def test_an_empty_trace_says_so() -> None:
    svg = sequence_svg(build("t-empty", []))
    root = ET.fromstring(svg)
    assert "no agent or tool steps" in "".join(root.itertext())


@settings(max_examples=60, deadline=None)
@given(random_rows())
def test_random_traces_agree_with_mermaid_and_parse(rows: list[Row]) -> None:
    _same_as_mermaid(build("t-random", rows))


UNPRINTABLE = ["agent\x01one", "tool\uffff", "a\x00b\x1b[31m", "a\ufffeb\x7f\x9f", "\x08"]


@pytest.mark.parametrize("name", UNPRINTABLE)
def test_characters_xml_cannot_hold_are_replaced_in_names_errors_and_ids(name: str) -> None:
    trace = build(name, [row("s1", None, "AGENT", name, 0, 50, error=name)])
    svg = sequence_svg(trace)
    root = ET.fromstring(svg)  # raises on a document that is not well-formed
    shown = "".join(root.itertext()) + (root.get("aria-label") or "")
    assert "\ufffd" in shown
    names = _participants(svg)
    assert list(names.values()) == ["".join(c if c.isprintable() else "\ufffd" for c in name)]
