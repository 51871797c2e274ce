"""The Alertmanager receiver: each notification becomes one alert on ``POST /api/v2/alerts``.

Example::

    am = AlertmanagerNotifier("alertmanager", "http://alertmanager:9093", resend_after=60)
    try:
        delivery = await am.send(notification, None)
    finally:
        await am.aclose()

Alertmanager identifies an alert by its label set and expects clients to keep re-posting it
while it is active (its docs: every 30 s to 3 min). Like Prometheus, sloguard sends a firing
alert with ``endsAt = now + 4 × resend_after``: if sloguard stops re-posting (crash, network
split), Alertmanager resolves the alert by itself a few minutes later instead of paging forever.
So **a firing alert must be re-posted at least every** ``resend_after`` seconds: the alerting
layer does that with ``repeat`` notifications, and the router must repeat for this receiver at
:attr:`AlertmanagerNotifier.resend_interval` (= ``resend_after``), whatever the route's own
``repeat_interval`` is. Said the other way round: ``resend_after`` must be at least the repeat
interval the router uses for this receiver, or the alert ends between two re-posts; four
missed re-posts in a row end it. Alertmanager itself deduplicates the re-posts, so its own
receivers are notified per its ``group_interval``/``repeat_interval``, not per re-post.

A resolved notification is posted with ``endsAt`` = the notification's ``ends_at`` (the moment
it resolved, in the past), which resolves the alert at once; its receivers hear about it at the
next ``group_interval`` (when they have ``send_resolved``).

A ``downgraded`` notification (the critical resolved while its warning still fires) keeps
Alertmanager's own semantics, where the two are different label sets: the alerting layer sends
Alertmanager receivers the critical's ``resolved`` and the warning's ``firing`` instead; one that
arrives here anyway is posted as both alerts in one request (the critical ending at the
downgrade, the warning firing). Alertmanager's inhibit rule (critical ⇒ warning) then lets the
warning through, and its receivers group and word it as they are configured to.

Answers map to deliveries like the webhook's (through :class:`sloguard.notify.delivery.Poster`):
2xx ok; 408/429/5xx and no answer retry; 400 (Alertmanager refused the alert as invalid) and
other 4xx permanent; a send after :meth:`AlertmanagerNotifier.aclose` answers retry (the
notification stays in the outbox for the next start). No httpx exception leaves this module; the
bearer token and the basic-auth password never appear in ``repr`` or reasons.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx

from sloguard.notify.delivery import Poster, check_url, json_body, origin
from sloguard.notify.model import AlertStatus, Delivery, Notification, Transition
from sloguard.notify.render import alertmanager_alert, previous_alert

ALERTS_PATH = "api/v2/alerts"
#: A firing alert lives this many ``resend_after`` intervals past its last post (Prometheus: 4).
LIFETIME_INTERVALS = 4


class AlertmanagerNotifier:
    """Post alerts to an Alertmanager (v2 API) at ``url`` (its root, path prefix allowed).

    ``resend_after`` is how often firing alerts are re-posted (see the module docstring);
    ``clock`` dates the ``endsAt`` of firing alerts; ``transport`` replaces the network.
    """

    min_interval = 0.0

    def __init__(
        self,
        name: str,
        url: str,
        *,
        timeout: float = 10.0,
        resend_after: float = 60.0,
        clock: Callable[[], float] = time.time,
        transport: httpx.AsyncBaseTransport | None = None,
        bearer_token: str | None = None,
        basic_auth: tuple[str, str] | None = None,
    ) -> None:
        parsed = check_url(url, f"Alertmanager {name!r}")
        if not timeout > 0 or not resend_after > 0:
            raise ValueError(f"Alertmanager {name!r}: timeout and resend_after must be > 0")
        if bearer_token is not None and basic_auth is not None:
            raise ValueError(f"Alertmanager {name!r}: set either bearer_token or basic_auth")
        self.name = name
        self.url = origin(parsed)
        self.timeout = timeout
        self.resend_after = resend_after
        self._clock = clock
        bearer = {"Authorization": f"Bearer {bearer_token}"} if bearer_token is not None else None
        self._poster = Poster(
            f"Alertmanager {name!r} at {self.url}",
            timeout=timeout,
            hidden=[s for s in (bearer_token, basic_auth[1] if basic_auth else None) if s],
            base_url=parsed.copy_with(path=parsed.path.rstrip("/") + "/"),
            headers=bearer,
            auth=httpx.BasicAuth(*basic_auth) if basic_auth is not None else None,
            transport=transport,
            clock=clock,
        )

    def __repr__(self) -> str:
        return (
            f"AlertmanagerNotifier({self.name!r}, {self.url!r}, resend_after={self.resend_after:g})"
        )

    @property
    def resend_interval(self) -> float:
        """Seconds between two posts of a still-firing alert the router must keep to."""
        return self.resend_after

    def alert(self, notification: Notification) -> dict[str, Any]:
        """The v2 API alert for ``notification`` as of now: a firing one ends
        ``4 × resend_after`` ahead; a resolved one at its ``ends_at`` (now if unknown)."""
        now = self._clock()
        if notification.status is AlertStatus.RESOLVED:
            return alertmanager_alert(notification, ends_at=now)
        return alertmanager_alert(
            notification, ends_at=now + LIFETIME_INTERVALS * self.resend_after
        )

    async def send(self, notification: Notification, ref: str | None) -> Delivery:
        """Post ``notification`` as one alert; map the answer (or its absence) to a Delivery.

        An acknowledgement is not an alert (Alertmanager has none): nothing is posted."""
        if notification.transition is Transition.ACKNOWLEDGED:
            return Delivery.ok()
        alerts = [self.alert(notification)]
        previous = previous_alert(notification)
        if previous is not None:  # the critical a downgrade replaces: resolved
            keys = ("labels", "annotations", "startsAt", "endsAt", "generatorURL")
            alerts.insert(0, {k: previous[k] for k in keys})
        return await self._poster.post(ALERTS_PATH, json_body(alerts))

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._poster.aclose()

    async def __aenter__(self) -> AlertmanagerNotifier:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()
