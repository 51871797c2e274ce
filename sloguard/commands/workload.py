"""``sloguard demo``: the all-in-one daemon plus a synthetic multi-agent workload.

A supervisor routes customer requests to billing, shipping and research workers that call
tools (and hand off, decide, report routing outcomes) through the SDK, in this process, so the
daemon's own metrics carry them. After ``incident_after`` seconds the billing worker starts
failing and slowing down: within a few evaluation ticks ``demo-agent-availability`` for
``agent_name=billing`` goes ``burning``, and so do the end-to-end SLOs of the
``customer-request`` workflow (slower and dearer runs). No Prometheus needed (embedded SLI
source).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from sloguard.conventions import RoutingOutcome
from sloguard.notify.config import AlertRouting, LogSpec, Receiver, SlackSpec, SlackWebhookSpec
from sloguard.notify.routing import Route
from sloguard.sdk.decorators import trace_agent_call, trace_tool_call
from sloguard.sdk.step import add_usage, workflow
from sloguard.sdk.telemetry import current_telemetry


class WorkerError(RuntimeError):
    """A worker failed the request.

    Not a :class:`~sloguard.errors.SloguardError`: it stands for an error of the simulated agent
    code, which the SDK records (``error_type="WorkerError"``) like any application error.
    """


@dataclass
class Incident:
    """Whether the injected incident is on (shared by the workload)."""

    started_at: float
    active: bool = False


def demo_slo_file() -> Path:
    """Path of the packaged demo SLO file."""
    return Path(str(resources.files("sloguard") / "data" / "demo-slos.yaml"))


class Workload:
    """A supervisor and three workers, instrumented with the SDK decorators."""

    def __init__(self, incident: Incident, *, seed: int = 7, speed: float = 1.0) -> None:
        self.incident = incident
        self.rng = random.Random(seed)
        self.speed = speed  # scales every simulated delay (tests use a tiny value)

        @trace_tool_call(name="lookup_invoice")
        async def lookup_invoice(customer: str, api_key: str = "sk-demo") -> dict[str, int]:
            await self._sleep(0.02, 0.08)
            if self.incident.active and self.rng.random() < 0.4:
                raise TimeoutError("billing database timed out")
            return {"amount": self.rng.randint(5, 500)}

        @trace_tool_call(name="track_parcel")
        async def track_parcel(order: str) -> str:
            await self._sleep(0.01, 0.05)
            return "in transit"

        @trace_tool_call(name="web_search")
        async def web_search(query: str) -> list[str]:
            await self._sleep(0.05, 0.2)
            if self.rng.random() < 0.005:
                raise ConnectionError("search backend reset the connection")
            return [f"result for {query}"]

        @trace_agent_call(name="billing")
        async def billing(customer: str) -> str:
            invoice = await lookup_invoice(customer)
            if self.incident.active:
                await self._sleep(1.5, 3.5)  # the incident also makes billing slow
                # ... and its model calls time out and are retried: the request costs more
                add_usage(model="gpt-4o", input_tokens=2400, output_tokens=600, cost=0.02)
            add_usage(
                model="gpt-4o",
                input_tokens=self.rng.randint(200, 600),
                output_tokens=self.rng.randint(50, 200),
                cost=0.004,
            )
            return f"refund {invoice['amount']}"

        @trace_agent_call(name="shipping")
        async def shipping(order: str) -> str:
            status = await track_parcel(order)
            add_usage(
                model="gpt-4o-mini",
                input_tokens=self.rng.randint(100, 300),
                output_tokens=self.rng.randint(20, 80),
                cost=0.0004,
            )
            return status

        @trace_agent_call(name="research")
        async def research(question: str) -> str:
            hits = await web_search(question)
            add_usage(
                model="gpt-4o",
                input_tokens=self.rng.randint(500, 1500),
                output_tokens=self.rng.randint(100, 400),
                cost=0.009,
            )
            return hits[0]

        workers = {"billing": billing, "shipping": shipping, "research": research}

        @trace_agent_call(name="supervisor")
        async def supervisor(intent: str) -> str:
            recorder = current_telemetry().recorder
            # routing: mostly right; a wrong route is noticed (and the request re-routed)
            wrong = self.rng.random() < 0.05
            recorder.decision("supervisor", "routing", 0.55 if wrong else 0.9)
            recorder.routing_outcome(
                "supervisor", RoutingOutcome.INCORRECT if wrong else RoutingOutcome.CORRECT
            )
            add_usage(model="gpt-4o-mini", input_tokens=120, output_tokens=10, cost=0.0002)
            try:
                return await workers[intent](f"request-{self.rng.randint(1, 999)}")
            except (TimeoutError, ConnectionError) as exc:
                raise WorkerError(f"{intent} failed: {exc}") from exc

        self.supervisor = supervisor
        self.intents = list(workers)

    async def _sleep(self, low: float, high: float) -> None:
        await asyncio.sleep(self.rng.uniform(low, high) * self.speed)

    async def one_request(self, n: int) -> None:
        """Handle one customer request as a workflow."""
        intent = self.rng.choices(self.intents, weights=[5, 3, 2])[0]
        async with workflow("customer-request", f"req-{n}"):
            # on failure the customer gets an apology; the metrics keep the failure
            with contextlib.suppress(WorkerError):
                await self.supervisor(intent)

    async def run(
        self,
        *,
        rate: float,
        incident_after: float,
        stop: asyncio.Event,
        incident_duration: float | None = None,
    ) -> int:
        """Send ``rate`` requests/s until ``stop``; switch the incident on (and off) on time."""
        n = 0
        tasks: set[asyncio.Task[None]] = set()
        while not stop.is_set():
            elapsed = time.monotonic() - self.incident.started_at
            ends = None if incident_duration is None else incident_after + incident_duration
            if (
                not self.incident.active
                and incident_after <= elapsed
                and (ends is None or elapsed < ends)
            ):
                self.incident.active = True
                print("demo: incident injected: billing is failing and slow", flush=True)
            elif self.incident.active and ends is not None and elapsed >= ends:
                self.incident.active = False
                print("demo: incident over: billing recovered", flush=True)
            task = asyncio.create_task(self.one_request(n))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
            n += 1
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=1.0 / rate)
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        return n


def demo_routing(env: Mapping[str, str]) -> AlertRouting:
    """Alerts to the console, and to Slack when ``SLOGUARD_SLACK_*`` is set.

    ``SLOGUARD_SLACK_TOKEN`` + ``SLOGUARD_SLACK_CHANNEL`` post as a bot (optionally to
    ``SLOGUARD_SLACK_BASE_URL``); ``SLOGUARD_SLACK_WEBHOOK_URL`` posts to an incoming webhook.
    """
    receivers = {"console": Receiver("console", "log", LogSpec())}
    token, channel = env.get("SLOGUARD_SLACK_TOKEN"), env.get("SLOGUARD_SLACK_CHANNEL")
    if token and channel:
        spec = SlackSpec(channel=channel, base_url=env.get("SLOGUARD_SLACK_BASE_URL") or None)
        receivers["slack"] = Receiver("slack", "slack", spec, (token,))
    elif env.get("SLOGUARD_SLACK_WEBHOOK_URL"):
        receivers["slack"] = Receiver(
            "slack", "slack_webhook", SlackWebhookSpec(), (env["SLOGUARD_SLACK_WEBHOOK_URL"],)
        )
    routes = tuple(Route(receiver=name, continue_=True) for name in receivers)
    return AlertRouting(receivers, Route(receiver="console", routes=routes, repeat_interval=600.0))
