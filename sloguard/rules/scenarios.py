"""Error-rate scenarios for ``sloguard simulate``: parsing and the event stream they describe. Pure.

A scenario is baseline traffic (``rate`` events/s at ``baseline`` error ratio) with one incident
starting at t = 0 and lasting ``duration``. Scenario text is ``NAME[:key=value,…]``::

    outage                       100 % errors for 30 minutes
    outage:ratio=0.5,duration=1h
    spike:ratio=0.1,duration=2m  a short burst
    leak:ratio=0.002,duration=2d a slow leak (default: twice the error budget)
    low_traffic:rate=0.01        an outage while almost nobody calls
    no_data                      no events at all
    gap                          an outage at 2 calls/s during which the source is down for
                                 just longer than the shortest tier's long window, 5 minutes in
    outage:gap=2m,gap_at=5m      any scenario with a data gap (``gap`` long, ``gap_at`` in)

During a gap the source answers nothing (evaluations are ``error``) and afterwards, like
Prometheus, it holds no samples from the gap: a window that begins inside the gap counts only
what was scraped since.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from sloguard.durations import DAY, HOUR, MINUTE, format_duration, parse_duration


@dataclass(frozen=True, slots=True)
class Scenario:
    """One incident on top of baseline traffic; times are seconds from the incident start."""

    name: str
    ratio: float
    duration: float
    rate: float = 10.0
    baseline: float = 0.0
    gap: float = 0.0  # seconds without data from the source (0: none)
    gap_at: float = 0.0  # when the gap begins, seconds from the incident start

    def at(self, t: float) -> tuple[float, float]:
        """(events per second, error ratio) at ``t`` seconds from the incident start."""
        if t < 0 or t >= self.duration:
            return self.rate, self.baseline
        return self.rate, self.ratio

    def label(self) -> str:
        """Scenario text with every parameter, e.g. ``spike:ratio=0.1,duration=2m,rate=10``."""
        gap = (
            f",gap={format_duration(self.gap)},gap_at={format_duration(self.gap_at)}"
            if self.gap > 0
            else ""
        )
        return (
            f"{self.name}:ratio={self.ratio:g},duration={format_duration(self.duration)},"
            f"rate={self.rate:g},baseline={self.baseline:g}{gap}"
        )


_DEFAULTS: Mapping[str, Mapping[str, float]] = {
    "outage": {"ratio": 1.0, "duration": 30 * MINUTE},
    "spike": {"ratio": 0.1, "duration": 2 * MINUTE},
    "leak": {"duration": 2 * DAY},  # ratio: twice the error budget, set from the SLO
    "low_traffic": {"ratio": 1.0, "duration": 30 * MINUTE, "rate": 0.01},
    "no_data": {"ratio": 0.0, "duration": 30 * MINUTE, "rate": 0.0},
    # gap: just longer than the shortest long window; duration: 10 minutes past the gap
    "gap": {"ratio": 1.0, "rate": 2.0, "gap_at": 5 * MINUTE},
}
_KEYS = ("ratio", "duration", "rate", "baseline", "gap", "gap_at")
_DURATIONS = ("duration", "gap", "gap_at")

SCENARIOS = tuple(_DEFAULTS)


def parse_scenario(text: str, *, error_budget: float, shortest_window: float = HOUR) -> Scenario:
    """Parse ``NAME[:key=value,…]``; raise ValueError with a clear message.

    ``error_budget`` and ``shortest_window`` (the shortest long window of the SLO's tiers) set
    the defaults of ``leak`` and ``gap``.
    """
    name, _, rest = text.strip().partition(":")
    if name not in _DEFAULTS:
        raise ValueError(f"unknown scenario {name!r}; choose one of {', '.join(SCENARIOS)}")
    values: dict[str, float] = dict(_DEFAULTS[name])
    if name == "leak":
        values.setdefault("ratio", min(1.0, 2 * error_budget))
    for item in filter(None, (p.strip() for p in rest.split(","))):
        key, sep, raw = item.partition("=")
        key = key.strip()
        if not sep or key not in _KEYS:
            keys = ", ".join(_KEYS)
            raise ValueError(f"scenario {name}: bad parameter {item!r}; use key=value with {keys}")
        try:
            values[key] = parse_duration(raw) if key in _DURATIONS else float(raw)
        except ValueError:
            raise ValueError(f"scenario {name}: {key} has a bad value {raw!r}") from None
    if name == "gap":
        values.setdefault("gap", shortest_window + 1.0)
        values.setdefault("duration", values["gap_at"] + values["gap"] + 10 * MINUTE)
    for key in ("ratio", "baseline"):
        if not 0.0 <= values.get(key, 0.0) <= 1.0:
            raise ValueError(f"scenario {name}: {key} must be within 0..1, got {values[key]:g}")
    if values.get("rate", 10.0) < 0:
        raise ValueError(f"scenario {name}: rate must be >= 0, got {values['rate']:g}")
    if values["duration"] <= 0:
        raise ValueError(f"scenario {name}: duration must be positive")
    for key in ("gap", "gap_at"):
        if values.get(key, 0.0) < 0:
            raise ValueError(f"scenario {name}: {key} must be >= 0")
    if name == "no_data":
        values["rate"] = 0.0
    return Scenario(
        name=name,
        ratio=values["ratio"],
        duration=values["duration"],
        rate=values.get("rate", 10.0),
        baseline=values.get("baseline", 0.0),
        gap=values.get("gap", 0.0),
        gap_at=values.get("gap_at", 0.0),
    )
