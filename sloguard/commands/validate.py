"""``sloguard validate [PATH...] [--config FILE]``: check SLO and settings files.

Each PATH is recognised by its top-level keys (see ``KINDS``): ``slos``, ``policies`` or
``apiVersion`` make an SLO file; anything else is checked as a settings file, on its own (the
environment is not applied). Problems print as ``file:line: field: message``; notices (things
sloguard adjusts on purpose, such as windows raised to the source's resolution) print as
``notice: file:line: field: message`` and do not fail the check. An SLO name used in more than one
of the SLO files is a problem, as it is for the daemon. The PromQL of ``kind: ratio`` SLIs is
parsed (:mod:`sloguard.slo.promqlcheck`): syntax errors with their character and a repair where
one is obvious, counters without ``rate``/``increase``, selectors that can never match sloguard's
metrics; rates read as event counts are notices.

``--config FILE`` checks what ``sloguard run --config FILE`` would run: those settings with the
environment applied, every file of their ``slo_files``, and every SLO file checked against them
(latency buckets; without ``prometheus.url`` the embedded source, which refuses ``kind: ratio``;
windows below 4 evaluation or scrape intervals raised); a ``SLOGUARD_*`` variable that looks like a
setting but names none (``SLOGUARD_INGEST_TOKEN``) is one of its problems, as it stops the
daemon. Without it SLO files are checked with the default buckets, in Prometheus mode, with no
resolution floor.

Exit status: 0 clean (notices allowed), 1 problems (a missing file is one), 2 usage errors.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sloguard.commands import Command
from sloguard.errors import ConfigError, Problem
from sloguard.notify.config import check_routing_doc
from sloguard.settings.model import Settings, load_settings
from sloguard.slo.loader import check_slo_docs, duplicate_names
from sloguard.slo.spec import SLO
from sloguard.yamldoc import YamlDoc, load_yaml_all

#: How many sample or scrape intervals a source needs to resolve a window (DESIGN §6).
RESOLUTION_INTERVALS = 4


@dataclass(frozen=True, slots=True)
class SLOOptions:
    """What SLO files are checked against (the keyword arguments of ``sloguard.slo.loader``)."""

    latency_buckets: tuple[float, ...] | None = None
    resolution: float = 0.0
    embedded: bool = False
    #: Bounds of the workflow duration and cost histograms (None: the defaults).
    workflow_buckets: tuple[tuple[float, ...], tuple[float, ...]] | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> SLOOptions:
        """The options ``sloguard run`` loads SLO files with under ``settings``."""
        embedded = settings.prometheus.url is None
        interval = settings.evaluation_interval if embedded else settings.prometheus.scrape_interval
        return cls(
            latency_buckets=settings.metrics.buckets.agent_latency,
            resolution=RESOLUTION_INTERVALS * interval,
            embedded=embedded,
            workflow_buckets=(
                settings.metrics.buckets.workflow_duration,
                settings.metrics.buckets.workflow_cost,
            ),
        )

    def kwargs(self) -> dict[str, Any]:
        """The loader's keyword arguments."""
        out: dict[str, Any] = {"resolution": self.resolution, "embedded": self.embedded}
        if self.latency_buckets is not None:
            out["latency_buckets"] = self.latency_buckets
        if self.workflow_buckets is not None:
            out["workflow_buckets"] = self.workflow_buckets
        return out


@dataclass(frozen=True, slots=True)
class FileReport:
    """What checking one file found; ``slos`` are the SLOs of a valid SLO file."""

    file: str
    kind: str
    problems: tuple[Problem, ...] = ()
    notices: tuple[Problem, ...] = ()
    slos: tuple[SLO, ...] = ()


Checker = Callable[[Sequence[YamlDoc], SLOOptions], FileReport]


def _check_slos(docs: Sequence[YamlDoc], options: SLOOptions) -> FileReport:
    # a peer format's file (OpenSLO) may hold several documents; the loader says when not
    check = check_slo_docs(docs, **options.kwargs())
    slos = check.slo_file.slos if check.slo_file is not None else ()
    return FileReport(docs[0].file, "slo", check.problems, check.notices, slos)


def _one_document(checker: Callable[[YamlDoc, SLOOptions], FileReport]) -> Checker:
    def check(docs: Sequence[YamlDoc], options: SLOOptions) -> FileReport:
        report = checker(docs[0], options)
        extra = tuple(
            Problem(d.file, min(d.lines.values(), default=None), "", _ONE_DOCUMENT)
            for d in docs[1:2]
        )
        return FileReport(report.file, report.kind, (*report.problems, *extra), report.notices)

    return check


_ONE_DOCUMENT = "this file holds one YAML document; remove the '---' and what follows it"


def _check_settings(doc: YamlDoc, options: SLOOptions) -> FileReport:
    try:
        load_settings(doc.file, env={})
    except ConfigError as exc:
        return FileReport(doc.file, "settings", exc.problems)
    return FileReport(doc.file, "settings")


def _check_routing(doc: YamlDoc, options: SLOOptions) -> FileReport:
    # Secrets are looked up in this process's environment: a missing one is a problem here
    # exactly as it would stop the daemon.
    _, problems = check_routing_doc(doc, os.environ)
    return FileReport(doc.file, "routing", tuple(problems))


def _top_keys(doc: YamlDoc) -> frozenset[Any]:
    return frozenset(doc.data) if isinstance(doc.data, dict) else frozenset()


#: Document kinds, first match wins: (name, does a document look like one, checker).
KINDS: tuple[tuple[str, Callable[[YamlDoc], bool], Checker], ...] = (
    ("slo", lambda doc: bool(_top_keys(doc) & {"slos", "policies", "apiVersion"}), _check_slos),
    (
        "routing",
        lambda doc: bool(_top_keys(doc) & {"receivers", "route"}),
        _one_document(_check_routing),
    ),
    ("settings", lambda doc: True, _one_document(_check_settings)),
)


def check_file(path: str, options: SLOOptions, *, kind: str | None = None) -> FileReport:
    """Check one file as ``kind`` (default: recognised by its keys); unreadable is a problem."""
    try:
        docs = load_yaml_all(path)
    except ConfigError as exc:
        return FileReport(path, kind or "unknown", exc.problems)
    for name, looks_like, checker in KINDS:
        if name == kind or (kind is None and looks_like(docs[0])):
            return checker(docs, options)
    raise ValueError(f"unknown document kind {kind!r}")


def check_files(
    paths: Sequence[str], options: SLOOptions, kinds: Mapping[str, str] | None = None
) -> list[FileReport]:
    """Check every file (each once), then SLO names shared between files."""
    reports = [check_file(p, options, kind=(kinds or {}).get(p)) for p in dict.fromkeys(paths)]
    shared = duplicate_names(s for r in reports for s in r.slos)
    return [
        FileReport(
            r.file, r.kind, (*r.problems, *(p for p in shared if p.file == r.file)), r.notices
        )
        for r in reports
    ]


def _entries(report: FileReport) -> list[tuple[str, Problem]]:
    entries = [("error", p) for p in report.problems] + [("notice", p) for p in report.notices]
    return sorted(entries, key=lambda e: e[1].line or 0)


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("paths", nargs="*", metavar="PATH", help="SLO or settings YAML files")
    parser.add_argument(
        "--config",
        metavar="FILE",
        help="settings as `sloguard run --config FILE` sees them: also check their slo_files, "
        "and check SLO files against them (buckets, embedded mode, resolution)",
    )
    parser.add_argument("--json", action="store_true", help="print a JSON list of problems")


def _validate(args: argparse.Namespace) -> int:
    paths: list[str] = list(args.paths)
    if not paths and args.config is None:
        print("sloguard validate: error: give PATH... or --config FILE", file=sys.stderr)
        return 2
    reports: list[FileReport] = []
    options = SLOOptions()
    kinds: dict[str, str] = {}
    if args.config is not None:
        try:
            settings = load_settings(args.config)
        except ConfigError as exc:
            reports.append(FileReport(args.config, "settings", exc.problems))
        else:
            options = SLOOptions.from_settings(settings)
            kinds = {str(p): "slo" for p in settings.slo_files}
            if settings.routing_file is not None:
                kinds[str(settings.routing_file)] = "routing"
            paths = [*paths, *kinds]
            reports.append(FileReport(args.config, "settings"))
        paths = [p for p in paths if p != args.config]
    reports += check_files(paths, options, kinds)
    entries = [e for r in reports for e in _entries(r)]
    if args.json:
        rows = [
            {"level": level, "file": p.file, "line": p.line, "field": p.field, "message": p.message}
            for level, p in entries
        ]
        print(json.dumps(rows, ensure_ascii=False, indent=2))
    else:
        for level, p in entries:
            print(f"notice: {p}" if level == "notice" else p)
    problems = sum(len(r.problems) for r in reports)
    notices = sum(len(r.notices) for r in reports)
    print(
        f"{len(reports)} file(s) checked: {problems} problem(s), {notices} notice(s)",
        file=sys.stderr,
    )
    return 1 if problems else 0


VALIDATE = Command(
    name="validate",
    summary="check SLO and settings files; list every problem with file, line and field",
    examples=(
        "sloguard validate config/slos.yaml config/sloguard.yaml",
        "sloguard validate --config config/sloguard.yaml --json",
    ),
    add_arguments=_add_arguments,
    handler=_validate,
)
