"""SLO specification: the frozen models an SLO file is validated into (DESIGN §6). Pure.

The loader (``sloguard.slo.loader``) turns YAML into these; everything downstream (PromQL, sources,
evaluator, rules, alerting) sees only these models, never raw dicts.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from sloguard.slo.budget import Policy
from sloguard.slo.calendar import Calendar


class SLIKind(StrEnum):
    """What an SLO measures."""

    SUCCESS_RATE = "success_rate"  # agent_calls_total status=success / all
    LATENCY = "latency"  # agent_latency_seconds_bucket le=threshold / count
    ROUTING_ACCURACY = "routing_accuracy"  # agent_routing_outcomes_total outcome=correct / all
    TOOL_SUCCESS_RATE = "tool_success_rate"  # agent_tool_calls_total status=success / all
    WORKFLOW_SUCCESS_RATE = "workflow_success_rate"  # agent_workflow_runs_total success / all
    WORKFLOW_LATENCY = "workflow_latency"  # agent_workflow_duration_seconds le=threshold / count
    WORKFLOW_COST = "workflow_cost"  # agent_workflow_cost_usd le=max_cost / count
    RATIO = "ratio"  # raw PromQL good/bad/total (Prometheus only)


@dataclass(frozen=True, slots=True)
class SLI:
    """The indicator: a kind plus its parameters."""

    kind: SLIKind
    threshold: float | None = None  # latency, workflow_latency: seconds (a bucket bound)
    max_cost: float | None = None  # workflow_cost: USD per run (a bucket bound)
    good: str | None = None  # ratio: PromQL of good events (a counter selector or expression)
    bad: str | None = None  # ratio: PromQL of bad events
    total: str | None = None  # ratio: PromQL of all events


@dataclass(frozen=True, slots=True)
class Alerting:
    """How an SLO alerts."""

    policy: Policy
    labels: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)
    runbook: str | None = None
    dashboard: str | None = None
    name: str = "SLOBurn"  # the alert name in compiled rules (Sloth's alerting.name)


class BudgetingMethod(StrEnum):
    """What the objective is a share of (OpenSLO's ``budgetingMethod``)."""

    OCCURRENCES = "occurrences"  # good events / all events
    TIMESLICES = "timeslices"  # good slices / slices with events
    RATIO_TIMESLICES = "ratio_timeslices"  # the mean of the slices' good ratios


@dataclass(frozen=True, slots=True)
class Budgeting:
    """How events become the SLI: counted one by one, or per time slice.

    A slice is ``slice`` seconds long and ends at a multiple of ``slice`` (unix time); only
    slices with events count. With ``timeslices`` a slice is good when its good ratio is at
    least ``slice_objective``; with ``ratio_timeslices`` each slice counts its good ratio.

    Example::

        Budgeting(BudgetingMethod.TIMESLICES, slice=60.0, slice_objective=0.99)
    """

    method: BudgetingMethod = BudgetingMethod.OCCURRENCES
    slice: float = 0.0  # seconds; > 0 for the time-slice methods
    slice_objective: float | None = None  # timeslices only: a ratio in (0, 1]

    @property
    def sliced(self) -> bool:
        """Whether events are counted per time slice."""
        return self.method is not BudgetingMethod.OCCURRENCES


@dataclass(frozen=True, slots=True)
class SLO:
    """One service-level objective, possibly with one instance per ``group_by`` label value."""

    name: str
    objective: float  # ratio in (0, 1), e.g. 0.995
    period: float  # seconds: rolling, or a calendar's nominal length (see ``calendar``)
    sli: SLI
    alerting: Alerting
    description: str = ""
    selector: Mapping[str, str] = field(default_factory=dict)  # exact label matches
    group_by: tuple[str, ...] = ()
    min_events: float = 0.0
    labels: Mapping[str, str] = field(default_factory=dict)  # on recorded series (and alerts)
    source_file: str = ""
    source_line: int | None = None
    calendar: Calendar | None = None  # a calendar-aligned period (None: rolling)
    budgeting: Budgeting = Budgeting()

    @property
    def error_budget(self) -> float:
        """1 - objective."""
        return 1.0 - self.objective

    def windows(self) -> frozenset[float]:
        """Every window the SLO needs evaluated: the period and the policy's windows."""
        return self.alerting.policy.windows() | {self.period}


#: An instance's ``group_by`` label values as (label, value) pairs sorted by label; ``()`` when
#: the SLO is not grouped. Sources key their window counts by it (they answer per SLO).
InstanceLabels = tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True, order=True)
class SLOInstance:
    """One instance of an SLO: the SLO's name and the instance's ``group_by`` label values.

    The one key of an instance from evaluation to alert state and its store.

    Example::

        inst = SLOInstance.of("availability", {"agent_name": "billing"})
        inst.labels        # (("agent_name", "billing"),)
        inst.labels_dict   # {"agent_name": "billing"}
    """

    slo: str
    labels: InstanceLabels = ()

    def __post_init__(self) -> None:
        # one instance, one key: pairs given in another order still compare equal
        if any(a[0] > b[0] for a, b in zip(self.labels, self.labels[1:], strict=False)):
            object.__setattr__(self, "labels", tuple(sorted(self.labels)))

    @classmethod
    def of(cls, slo: str, labels: Mapping[str, str]) -> SLOInstance:
        """The instance of ``slo`` with these labels (in any order)."""
        return cls(slo, tuple(sorted(labels.items())))

    @property
    def labels_dict(self) -> dict[str, str]:
        """The labels as a dict."""
        return dict(self.labels)


@dataclass(frozen=True, slots=True)
class SLOFile:
    """A whole SLO document."""

    slos: tuple[SLO, ...]
    policies: Mapping[str, Policy] = field(default_factory=dict)
