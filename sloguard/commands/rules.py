"""``sloguard rules``: compile SLO files into Prometheus rule files (and their promtool tests).

Per SLO file ``DIR/<stem>.rules.yaml`` (``--format prometheus``, the default) and/or
``DIR/<stem>.prometheus-rule.yaml`` (``--format prometheus-operator``); with ``--tests``
``DIR/tests/<slo>.test.yaml`` for ``promtool test rules``, expected times from ``simulate``.
``--check`` writes nothing and exits 1 when a file would change, is missing, or is a generated
file no longer produced (so CI fails when ``alerts/`` is stale).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from sloguard.commands import Command
from sloguard.durations import parse_duration

if TYPE_CHECKING:
    from sloguard.rules.sloth import RuleOptions
    from sloguard.slo.spec import SLO

FORMATS = {"prometheus": ".rules.yaml", "prometheus-operator": ".prometheus-rule.yaml"}
TESTS_DIR = "tests"
TEST_SUFFIX = ".test.yaml"


def _seconds(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        pass
    try:
        return parse_duration(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _label(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    return key, value


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("paths", nargs="+", metavar="PATH", help="SLO documents")
    parser.add_argument(
        "-o",
        "--output",
        required=True,
        metavar="DIR",
        help="output directory; - writes the files to standard output (YAML documents)",
    )
    parser.add_argument(
        "--format",
        action="append",
        choices=sorted(FORMATS),
        help="prometheus (rule file, default) or prometheus-operator (PrometheusRule); "
        "repeat for both",
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="write nothing; exit 1 if any output is missing, different or no longer generated",
    )
    parser.add_argument(
        "--tests",
        action="store_true",
        help=f"also write promtool unit tests to DIR/{TESTS_DIR}/ (needs --format prometheus)",
    )
    parser.add_argument(
        "--scenario",
        action="append",
        metavar="NAME[:k=v,...]",
        help="test scenario (repeatable; default per SLO: outage, spike, leak)",
    )
    parser.add_argument(
        "--scrape-interval",
        type=_seconds,
        default=15.0,
        metavar="DURATION",
        help="Prometheus scrape interval; windows under 4 intervals are raised (default 15s)",
    )
    parser.add_argument(
        "--evaluation-interval",
        type=_seconds,
        default=30.0,
        metavar="DURATION",
        help="the daemon's evaluation interval the tests simulate (default 30s)",
    )
    parser.add_argument(
        "--rule-interval",
        type=_seconds,
        default=60.0,
        metavar="DURATION",
        help="Prometheus's rule evaluation interval in the tests (default 1m)",
    )
    parser.add_argument(
        "--service", default="sloguard", help="sloth_service label value (default sloguard)"
    )
    parser.add_argument(
        "--sloth-severity",
        action="store_true",
        help="write the severity label as Sloth's page (critical) / ticket (warning); "
        "sloth_severity carries them either way",
    )
    parser.add_argument(
        "--operator-label",
        action="append",
        type=_label,
        default=[],
        metavar="KEY=VALUE",
        help="metadata label of the PrometheusRule (e.g. release=prometheus); repeatable",
    )
    parser.add_argument("--json", action="store_true", help="print JSON")


@dataclass
class Plan:
    """What one run would write: relative path → text, plus notes for the user."""

    files: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    suffixes: tuple[tuple[str, str], ...] = ()  # (folder, suffix) of the kinds generated


def test_file_name(slo: SLO) -> str:
    """``agent-availability.test.yaml``; other names get a stable hash (``slo-1a2b3c4d``)."""
    slug = re.sub(r"[^a-z0-9]+", "-", slo.name.lower()).strip("-")
    if slug == slo.name:
        return f"{slug}{TEST_SUFFIX}"
    digest = hashlib.sha256(slo.name.encode()).hexdigest()[:8]
    return f"{slug or 'slo'}-{digest}{TEST_SUFFIX}"


def _resource_name(stem: str) -> str:
    name = re.sub(r"[^a-z0-9-]+", "-", f"sloguard-{stem}".lower()).strip("-")
    return name[:253].rstrip("-")


def build(args: argparse.Namespace) -> Plan:
    """Load the SLO files and render every output (no file is written here)."""
    from sloguard.errors import ConfigError, Problem
    from sloguard.rules.budgetnotes import budget_notes
    from sloguard.rules.compiler import compile_groups, header, prometheus_rule, render, rule_file
    from sloguard.slo.loader import load_slo_files

    formats = _formats(args)
    plan = Plan(suffixes=tuple(("", FORMATS[f]) for f in formats))
    slos = load_slo_files(
        args.paths,
        resolution=4 * args.scrape_interval,
        on_notice=lambda n: plan.notes.append(f"notice: {n}"),
    )
    stems: dict[str, str] = {}
    for path in args.paths:
        stem = Path(path).name.removesuffix(".yaml").removesuffix(".yml")
        if stem in stems:
            clash = f"{stems[stem]} writes the same output files ({stem}.*)"
            raise ConfigError([Problem(str(path), None, "", clash)])
        stems[stem] = path
        mine = [s for s in slos if s.source_file == str(path)]
        try:
            groups = compile_groups(mine, _options(args))
        except ValueError as exc:
            raise ConfigError([Problem(str(path), None, "", str(exc))]) from exc
        notes = budget_notes(mine)
        plan.notes.extend(f"note: {n}" for n in notes)
        head = header(Path(path).name, *notes)
        if "prometheus" in formats:
            plan.files[stem + FORMATS["prometheus"]] = render(rule_file(groups), head)
        if "prometheus-operator" in formats:
            doc = prometheus_rule(groups, _resource_name(stem), dict(args.operator_label))
            plan.files[stem + FORMATS["prometheus-operator"]] = render(doc, head)
    if args.tests:
        rule_files = sorted(f"../{s}{FORMATS['prometheus']}" for s in stems)
        asyncio.run(_tests(plan, slos, rule_files, args))
        plan.suffixes += ((TESTS_DIR, TEST_SUFFIX),)
    return plan


def _options(args: argparse.Namespace) -> RuleOptions:
    from sloguard.rules.sloth import RuleOptions

    return RuleOptions(service=args.service, sloth_severity=args.sloth_severity)


def _formats(args: argparse.Namespace) -> list[str]:
    return sorted(set(args.format or ["prometheus"]))


async def _tests(
    plan: Plan, slos: Sequence[SLO], rule_files: list[str], args: argparse.Namespace
) -> None:
    from sloguard.rules.budgetnotes import promtool_note
    from sloguard.rules.compiler import header, render
    from sloguard.rules.promtool import Unsupported, unit_test_doc
    from sloguard.rules.scenarios import parse_scenario

    if (note := promtool_note(slos)) is not None:
        plan.notes.append(note)  # the rule files hold records promtool cannot evaluate
        return

    for slo in sorted(slos, key=lambda s: s.name):
        try:
            scenarios = (
                [parse_scenario(t, error_budget=slo.error_budget) for t in args.scenario]
                if args.scenario
                else None
            )
            doc, lines = await unit_test_doc(
                slo,
                slos,
                rule_files,
                scenarios,
                interval=args.evaluation_interval,
                rule_interval=args.rule_interval,
                options=_options(args),
            )
        except Unsupported as exc:
            plan.notes.append(f"no promtool test for SLO {slo.name!r}: {exc}")
            continue
        head = header(
            Path(slo.source_file).name,
            f"promtool unit tests of SLO {slo.name!r}: expected alert times from sloguard "
            "simulate (the daemon) on the same scenarios",
            "",
            *lines,
        )
        plan.files[f"{TESTS_DIR}/{test_file_name(slo)}"] = render(doc, head)


def _generated(root: Path, suffixes: Sequence[tuple[str, str]]) -> set[str]:
    """Files under ``root`` of the generated kinds that carry our header."""
    from sloguard.rules.compiler import HEADER

    found = set()
    for folder, suffix in suffixes:
        base = root / folder if folder else root
        for p in base.glob(f"*{suffix}") if base.is_dir() else ():
            with p.open(encoding="utf-8", errors="replace") as fh:
                if HEADER in fh.readline():
                    found.add(p.relative_to(root).as_posix())
    return found


def compare(root: Path, plan: Plan) -> dict[str, str]:
    """Relative path → why it is stale (missing, differs, not generated any more)."""
    stale = {}
    for rel, text in sorted(plan.files.items()):
        path = root / rel
        if not path.exists():
            stale[rel] = "missing"
        elif path.read_text(encoding="utf-8") != text:
            stale[rel] = "differs"
    for rel in sorted(_generated(root, plan.suffixes) - set(plan.files)):
        stale[rel] = "no longer generated"
    return stale


def _rules(args: argparse.Namespace) -> int:
    if args.tests and "prometheus" not in _formats(args):
        print(
            "sloguard rules: --tests needs --format prometheus (the tests load it)", file=sys.stderr
        )
        return 2
    if args.output == "-" and (args.check or args.tests):
        print(
            "sloguard rules: -o - writes no files: --check and --tests need -o DIR", file=sys.stderr
        )
        return 2
    plan = build(args)
    if args.output == "-":
        return _to_stdout(plan, as_json=args.json)
    root = Path(args.output)
    stale = compare(root, plan)
    for note in plan.notes:
        print(note, file=sys.stderr)
    if not args.check:
        for rel, why in stale.items():
            path = root / rel
            if why == "no longer generated":
                path.unlink()
            else:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(plan.files[rel], encoding="utf-8")
    report: Mapping[str, object] = {
        "output": str(root),
        "check": bool(args.check),
        "files": sorted(plan.files),
        "stale" if args.check else "changed": stale,
    }
    if args.json:
        print(json.dumps(report, indent=2, ensure_ascii=False))
    else:
        done = {"missing": "written (new)", "differs": "written (changed)"}
        for rel in sorted(plan.files):
            state = stale.get(rel)
            if state is not None and not args.check:
                state = done[state]
            print(f"{root / rel}: {state or 'up to date'}")
        for rel in sorted(set(stale) - set(plan.files)):
            print(f"{root / rel}: {stale[rel]}" + ("" if args.check else " (removed)"))
        if args.check and stale:
            print(
                f"{root} is stale: regenerate with 'sloguard rules ... -o {root}' without --check",
                file=sys.stderr,
            )
    return 1 if args.check and stale else 0


def _to_stdout(plan: Plan, *, as_json: bool) -> int:
    """``-o -``: every file as one YAML document of a stream, or ``{"files": {name: text}}``."""
    for note in plan.notes:
        print(note, file=sys.stderr)
    if as_json:
        print(json.dumps({"output": "-", "files": plan.files}, indent=2, ensure_ascii=False))
    else:
        for rel in sorted(plan.files):  # one document each, after its header comments
            text = plan.files[rel]
            first = next((ln for ln in text.splitlines() if not ln.startswith("#")), "")
            sys.stdout.write(text if first == "---" else "---\n" + text)
    return 0


RULES = Command(
    name="rules",
    summary="compile SLOs into Prometheus rule files (Sloth naming) and promtool tests",
    examples=(
        "sloguard rules config/slos.yaml -o alerts",
        "sloguard rules config/slos.yaml -o alerts --format prometheus "
        "--format prometheus-operator --tests --check",
    ),
    add_arguments=_add_arguments,
    handler=_rules,
)
