"""SLO documents (YAML) → the frozen models of :mod:`sloguard.slo.spec`; every problem at once.

A document (DESIGN §6)::

    apiVersion: sloguard/v1                 # optional
    policies:                               # optional: named alert policies
      pager-only:
        - {severity: critical, long_window: 1h, short_window: 5m, burn_rate: 14.4}
        - {severity: critical, long_window: 6h, budget_fraction: 0.05}   # short: 6h/12
    slos:
      - name: checkout-availability
        objective: 99.5                     # percent, or target: 0.995 (a ratio)
        period: 30d                         # or the seed's window:; default 30d
        sli: {kind: success_rate}           # latency (+ threshold s), routing_accuracy,
                                            # tool_success_rate, ratio (good|bad + total)
        selector: {agent_name: checkout}
        group_by: [agent_name]
        min_events: 100
        alerting: {policy: pager-only, labels: {team: payments}, runbook: https://...}
      # the seed's AgentSLO form loads as written:
      - {name: 에이전트 가용성, target: 0.995, window: 24h, metric: success_rate, threshold: 0.995}

This module reads the document as a whole and is the public entry point; the pieces live apart:
one ``slos:`` entry in :mod:`sloguard.slo.entry`, policies and their tiers in
:mod:`sloguard.slo.policies`, field-by-field reading and value converters in
:mod:`sloguard.slo.docreader`.

Policies. The built-in ``default`` is DESIGN's four tiers scaled to each SLO's period; a named or
inline policy is taken as written (:mod:`sloguard.slo.policies` has the rules).
``SLOFile.policies`` holds the named policies with budget fractions resolved at the 30-day
reference period; each SLO's ``alerting.policy`` is the one resolved for that SLO.

Notices. What sloguard adjusts or ignores on purpose is a *notice*, which leaves the document
valid: a window shorter than the source can resolve (``resolution``) raised to it, a default
tier left out, a policy no SLO uses. :func:`check_slo_file` returns problems
and notices side by side (``sloguard validate`` prints both); the ``load_*`` and
:func:`parse_slo_text` functions drop the notices and raise :class:`ConfigError` on problems.

Example::

    slos = load_slo_files(["config/slos.yaml"], resolution=source.resolution)
    check = check_slo_file("config/slos.yaml", embedded=True)
    check.problems, check.notices
"""

from __future__ import annotations

import types
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from sloguard import conventions as c
from sloguard.errors import ConfigError, Problem
from sloguard.slo.budget import DEFAULT_PERIOD, Policy
from sloguard.slo.docreader import DocNode, Findings, any_string
from sloguard.slo.entry import KIND_LABELS, RESERVED_LABELS, read_slo
from sloguard.slo.histsli import EntryOptions
from sloguard.slo.names import duplicate_names
from sloguard.slo.peers.base import Translation
from sloguard.slo.peers.formats import detect, supported_versions
from sloguard.slo.peers.located import at_origins, first_line, notes_as_problems, translated_doc
from sloguard.slo.policies import DEFAULT_POLICY, NamedPolicies, named_policies
from sloguard.slo.promqlcheck import check_ratio_sli
from sloguard.slo.spec import SLO, SLOFile
from sloguard.yamldoc import YamlDoc, load_yaml_all, parse_yaml_all, show

#: Bounds of (agent_workflow_duration_seconds, agent_workflow_cost_usd).
WorkflowBuckets = tuple[Sequence[float], Sequence[float]]
WORKFLOW_BUCKETS: WorkflowBuckets = (c.WORKFLOW_DURATION_BUCKETS, c.WORKFLOW_COST_BUCKETS)

__all__ = [
    "API_VERSION",
    "DEFAULT_POLICY",
    "KIND_LABELS",
    "RESERVED_LABELS",
    "SLOCheck",
    "check_slo_doc",
    "check_slo_docs",
    "check_slo_file",
    "check_slo_text",
    "check_translation",
    "duplicate_names",
    "load_slo_file",
    "load_slo_files",
    "parse_slo_text",
]

API_VERSION = "sloguard/v1"

_DOC_KEYS = ("apiVersion", "slos", "policies")


@dataclass(frozen=True, slots=True)
class SLOCheck:
    """What checking one SLO document found: the model (None when it has problems), problems,
    and notices (things changed or left out on purpose, e.g. windows raised to the resolution).
    """

    file: str
    slo_file: SLOFile | None
    problems: tuple[Problem, ...]
    notices: tuple[Problem, ...]
    format: str = API_VERSION  # the format the file is written in ("Sloth", "OpenSLO", ...)

    def raise_for_problems(self) -> SLOFile:
        """Return the model, or raise :class:`ConfigError` listing every problem."""
        if self.problems or self.slo_file is None:
            raise ConfigError(self.problems)
        return self.slo_file


def _ratio_checked(findings: Findings, i: int, slo: SLO) -> SLO:
    """``slo`` with its ratio SLI's PromQL parsed and rates read as counts (promqlcheck)."""
    ratio = check_ratio_sli(slo.sli)
    for key, message in ratio.problems:
        findings.problem(("slos", i, "sli", key), message)
    for key, message in ratio.notices:
        findings.notice(("slos", i, "sli", key), message)
    return replace(slo, sli=ratio.sli)


def check_slo_doc(
    doc: YamlDoc,
    *,
    latency_buckets: Sequence[float] = c.AGENT_LATENCY_BUCKETS,
    workflow_buckets: WorkflowBuckets = WORKFLOW_BUCKETS,
    resolution: float = 0.0,
    embedded: bool = False,
) -> SLOCheck:
    """Check a parsed SLO document: every problem and notice, and the model if it is valid.

    ``latency_buckets`` are the bounds of ``agent_latency_seconds`` (latency thresholds must be
    one of them), ``workflow_buckets`` those of ``agent_workflow_duration_seconds`` and
    ``agent_workflow_cost_usd`` (workflow latency thresholds and cost budgets); ``resolution``
    is the shortest window the SLI source can resolve (seconds);
    ``embedded`` refuses SLIs that need Prometheus.
    """
    opts = EntryOptions(
        tuple(latency_buckets),
        resolution,
        embedded,
        tuple(workflow_buckets[0]),
        tuple(workflow_buckets[1]),
    )
    findings = Findings(doc)
    named: NamedPolicies = {}
    slos: list[SLO] = []
    if not isinstance(doc.data, dict):
        findings.problem(
            (), f"an SLO file is a mapping with an 'slos:' list (got {show(doc.data)})"
        )
    else:
        root = DocNode(findings, (), doc.data, _DOC_KEYS)
        version = root.get("apiVersion", any_string)
        if version is not None and version != API_VERSION:
            supported = ", ".join(supported_versions())
            findings.problem(
                ("apiVersion",), f"unsupported apiVersion {version!r} (supported: {supported})"
            )
        named = named_policies(findings, root)
        items = root.data.get("slos", ())
        if "slos" not in root.data:
            findings.problem(("slos",), "required field is missing: the list of SLOs")
        elif items is None:  # every SLO commented out
            items = []
        elif not isinstance(items, list):
            findings.problem(("slos",), f"must be a list of SLOs (got {show(items)})")
            items = []
        used: set[str] = set()
        first: dict[str, int | None] = {}
        for i, item in enumerate(items):
            slo = read_slo(findings, i, item, named, opts, used)
            name = item.get("name") if isinstance(item, dict) else None
            if isinstance(name, str) and name in first:
                findings.problem(
                    ("slos", i, "name"),
                    f"duplicate SLO name {name!r} (first on line {first[name]})",
                )
            elif isinstance(name, str):
                first[name] = doc.line(("slos", i, "name"))
            if slo is not None:
                slos.append(_ratio_checked(findings, i, slo))
        for name in (n for n in named if n not in used):
            findings.notice(("policies", name), f"policy {name!r} is not used by any SLO")
    problems, notices = findings.sorted_problems(), findings.sorted_notices()
    if problems:
        return SLOCheck(doc.file, None, problems, notices)
    policies = {
        name: Policy(name, tuple(spec.tier(DEFAULT_PERIOD) for spec in specs))
        for name, specs in named.items()
        if specs is not None
    }
    model = SLOFile(tuple(slos), types.MappingProxyType(policies))
    return SLOCheck(doc.file, model, (), notices)


def check_slo_docs(
    docs: Sequence[YamlDoc],
    *,
    latency_buckets: Sequence[float] = c.AGENT_LATENCY_BUCKETS,
    workflow_buckets: WorkflowBuckets = WORKFLOW_BUCKETS,
    resolution: float = 0.0,
    embedded: bool = False,
) -> SLOCheck:
    """:func:`check_slo_doc` of one file's documents: sloguard's own (one document), or a peer
    format's (Sloth, OpenSLO, Pyrra, slo-generator; :mod:`sloguard.slo.peers`) translated first,
    with every problem reported at the peer file's line and field."""
    first = docs[0]
    fmt = detect(first.data)
    if fmt is None:
        if len(docs) > 1:
            extra = Problem(first.file, first_line(docs[1]), "", _ONE_DOCUMENT)
            return SLOCheck(first.file, None, (extra,), ())
        return check_slo_doc(
            first,
            latency_buckets=latency_buckets,
            workflow_buckets=workflow_buckets,
            resolution=resolution,
            embedded=embedded,
        )
    strangers = [i for i, d in enumerate(docs) if not fmt.matches(d.data)]
    if strangers:
        problems = tuple(
            Problem(
                first.file,
                first_line(docs[i]),
                f"document {i + 1}",
                f"not a {fmt.name} document like the first",
            )
            for i in strangers
        )
        return SLOCheck(first.file, None, problems, (), fmt.name)
    return check_translation(
        docs,
        fmt.translate(docs),
        latency_buckets=latency_buckets,
        workflow_buckets=workflow_buckets,
        resolution=resolution,
        embedded=embedded,
    )


def check_translation(
    docs: Sequence[YamlDoc],
    translation: Translation,
    *,
    latency_buckets: Sequence[float] = c.AGENT_LATENCY_BUCKETS,
    workflow_buckets: WorkflowBuckets = WORKFLOW_BUCKETS,
    resolution: float = 0.0,
    embedded: bool = False,
) -> SLOCheck:
    """:func:`check_slo_doc` of a peer file's ``translation`` (of ``docs``), with its own
    problems and the checker's reported at the peer file's lines and fields."""
    checked = check_slo_doc(
        translated_doc(docs, translation),
        latency_buckets=latency_buckets,
        workflow_buckets=workflow_buckets,
        resolution=resolution,
        embedded=embedded,
    )
    found = notes_as_problems(docs, translation.problems)
    found += at_origins(docs, translation, checked.problems)
    notes = notes_as_problems(docs, translation.notices)
    notes += at_origins(docs, translation, checked.notices)
    problems = tuple(sorted(found, key=_place))
    notices = tuple(sorted(notes, key=_place))
    model = None if problems else checked.slo_file
    return SLOCheck(docs[0].file, model, problems, notices, translation.format)


def _place(problem: Problem) -> tuple[int, str]:
    return (problem.line or 0, problem.field)


_ONE_DOCUMENT = (
    "a sloguard/v1 SLO file holds one YAML document; put every SLO in its 'slos:' list"
    " (several documents are read only for peer formats such as OpenSLO)"
)


def check_slo_text(
    text: str,
    file: str = "<string>",
    *,
    latency_buckets: Sequence[float] = c.AGENT_LATENCY_BUCKETS,
    workflow_buckets: WorkflowBuckets = WORKFLOW_BUCKETS,
    resolution: float = 0.0,
    embedded: bool = False,
) -> SLOCheck:
    """:func:`check_slo_doc` of YAML ``text``; ``file`` names it in problems."""
    try:
        docs = parse_yaml_all(text, file)
    except ConfigError as exc:
        return SLOCheck(file, None, exc.problems, ())
    return check_slo_docs(
        docs,
        latency_buckets=latency_buckets,
        workflow_buckets=workflow_buckets,
        resolution=resolution,
        embedded=embedded,
    )


def check_slo_file(
    path: str | Path,
    *,
    latency_buckets: Sequence[float] = c.AGENT_LATENCY_BUCKETS,
    workflow_buckets: WorkflowBuckets = WORKFLOW_BUCKETS,
    resolution: float = 0.0,
    embedded: bool = False,
) -> SLOCheck:
    """:func:`check_slo_doc` of the file at ``path``; an unreadable file is a problem too."""
    try:
        docs = load_yaml_all(path)
    except ConfigError as exc:
        return SLOCheck(str(path), None, exc.problems, ())
    return check_slo_docs(
        docs,
        latency_buckets=latency_buckets,
        workflow_buckets=workflow_buckets,
        resolution=resolution,
        embedded=embedded,
    )


def parse_slo_text(
    text: str,
    file: str = "<string>",
    *,
    latency_buckets: Sequence[float] = c.AGENT_LATENCY_BUCKETS,
    workflow_buckets: WorkflowBuckets = WORKFLOW_BUCKETS,
    resolution: float = 0.0,
    embedded: bool = False,
) -> SLOFile:
    """Validate the SLO document ``text``; raise :class:`ConfigError` listing every problem."""
    return check_slo_text(
        text,
        file,
        latency_buckets=latency_buckets,
        workflow_buckets=workflow_buckets,
        resolution=resolution,
        embedded=embedded,
    ).raise_for_problems()


def load_slo_file(
    path: str | Path,
    *,
    latency_buckets: Sequence[float] = c.AGENT_LATENCY_BUCKETS,
    workflow_buckets: WorkflowBuckets = WORKFLOW_BUCKETS,
    resolution: float = 0.0,
    embedded: bool = False,
) -> SLOFile:
    """Load and validate the SLO file at ``path``; raise :class:`ConfigError` on problems."""
    return check_slo_file(
        path,
        latency_buckets=latency_buckets,
        workflow_buckets=workflow_buckets,
        resolution=resolution,
        embedded=embedded,
    ).raise_for_problems()


def load_slo_files(
    paths: Iterable[str | Path],
    *,
    latency_buckets: Sequence[float] = c.AGENT_LATENCY_BUCKETS,
    workflow_buckets: WorkflowBuckets = WORKFLOW_BUCKETS,
    resolution: float = 0.0,
    embedded: bool = False,
    on_notice: Callable[[Problem], object] | None = None,
) -> tuple[SLO, ...]:
    """Load every SLO of ``paths``; raise :class:`ConfigError` with every problem of every file,
    including names used in more than one file. ``on_notice`` is called with each notice (the
    daemon logs them)."""
    checks = [
        check_slo_file(
            p,
            latency_buckets=latency_buckets,
            workflow_buckets=workflow_buckets,
            resolution=resolution,
            embedded=embedded,
        )
        for p in paths
    ]
    slos = tuple(s for ch in checks if ch.slo_file is not None for s in ch.slo_file.slos)
    problems = [p for ch in checks for p in ch.problems] + duplicate_names(slos)
    if problems:
        raise ConfigError(problems)
    for notice in (n for ch in checks for n in ch.notices):
        if on_notice is not None:
            on_notice(notice)
    return slos
