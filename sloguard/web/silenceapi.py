"""Silences, maintenance windows and acknowledgements over HTTP.

- ``GET /api/v1/silences`` (``?state=active|pending|expired``): every stored silence with its
  ``status``; expired ones stay listed until the ``silence_retention`` setting prunes them;
- ``POST /api/v1/silences``: create one (201). Body::

      {"matchers": ["slo=checkout", "severity=~critical|warning"],   # or Alertmanager's objects
       "starts_at": "2026-12-07T02:00:00Z",   # optional (now); RFC 3339 or epoch seconds
       "ends_at": "2026-12-07T04:00:00Z",     # or "duration": "2h"
       "created_by": "ana", "comment": "database upgrade"}

  A start in the future makes it a maintenance window;
- ``DELETE /api/v1/silences/{id}``: expire it now (kept for audit);
- ``POST /api/v1/alerts/{fingerprint}/ack`` with ``{"by": "ana", "comment": "on it"}``:
  acknowledge a firing alert (no more reminders until it resolves; receivers told of it get an
  ``acknowledged`` notification, Slack updates its message).

Who may write (:class:`WriteAccess`): with the ingest token or basic-auth users configured, a
write needs one of them (``Authorization: Bearer <ingest token>``, or a user of the web
configuration file: the people who log in to the page); with neither, writes need what reads
need (nothing, or the read token). ``created_by`` / ``by`` default to the basic-auth user. Writes
must be JSON (``Content-Type: application/json``): a browser cannot send that across origins
without asking first, so another site cannot silence alerts with a logged-in user's password.

Example::

    app = create_app(registry, routers=[silence_router(center, WriteAccess(ReadAuth(token=t)))],
                     write_auth=access.auth)
"""

from __future__ import annotations

import base64
import binascii
import time
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

import anyio.to_thread
from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import JSONResponse

from sloguard.alerting.center import ActiveAlert, AlertCenter, NotFiring
from sloguard.alerting.silences import (
    Matcher,
    SilenceError,
    SilenceState,
    matcher_from_dict,
    parse_matcher,
    silence_dict,
)
from sloguard.alerting.storebase import NotLeader
from sloguard.durations import parse_duration
from sloguard.web.auth import ReadAuth

__all__ = ["AnyAuth", "WriteAccess", "alert_dict", "silence_router"]

_STATES = [s.value for s in SilenceState]


class AnyAuth(ReadAuth):
    """Reads pass with the read credentials or the write ones (who may write may read)."""

    def __init__(self, read: ReadAuth, write: ReadAuth) -> None:
        super().__init__()
        self._read, self._write = read, write

    @property
    def enabled(self) -> bool:
        """True when reads need credentials."""
        return self._read.enabled

    @property
    def challenges(self) -> list[str]:
        """The read challenges (the write token is not advertised)."""
        return self._read.challenges

    def remembered(self, authorization: str | None) -> bool:
        """True when either remembers ``authorization``."""
        return self._read.remembered(authorization) or self._write.remembered(authorization)

    def check(self, authorization: str | None) -> bool:
        """True when ``authorization`` may read or may write."""
        return self._read.check(authorization) or (
            self._write.enabled and self._write.check(authorization)
        )


class WriteAccess:
    """Who may create and expire silences and acknowledge alerts (see the module docstring)."""

    def __init__(self, auth: ReadAuth) -> None:
        """``auth``: the ingest token and the web configuration file's users."""
        self.auth = auth

    async def check(self, request: Request) -> str | None:
        """Raise 401 unless the request may write; return its basic-auth user, if any.

        A bcrypt check runs in a worker thread (tens of milliseconds), as for reads."""
        header = request.headers.get("authorization")
        if self.auth.enabled and not (
            self.auth.remembered(header) or await anyio.to_thread.run_sync(self.auth.check, header)
        ):
            raise HTTPException(
                401,
                "writing needs the ingest token (Authorization: Bearer …) or a user of the web "
                "configuration file",
                headers={"WWW-Authenticate": ", ".join(self.auth.challenges)},
            )
        return _basic_user(header)


def _basic_user(header: str | None) -> str | None:
    scheme, _, value = (header or "").strip().partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        user, sep, _ = base64.b64decode(value.strip(), validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return user if sep else None


def _time(body: Mapping[str, Any], field: str, default: float | None) -> float | None:
    value = body.get(field)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise SilenceError(f"{field}: expected RFC 3339 time or epoch seconds, got {value!r}")
    if isinstance(value, int | float):
        return float(value)
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise SilenceError(f"{field}: {value!r} is not an RFC 3339 time") from None
    if parsed.tzinfo is None:
        raise SilenceError(f"{field}: {value!r} has no time zone (add Z or +00:00)")
    return parsed.timestamp()


def _matchers(raw: object) -> list[Matcher]:
    if not isinstance(raw, list):
        raise SilenceError("matchers: expected a list of matchers")
    out = []
    for i, m in enumerate(raw):
        try:
            if isinstance(m, str):
                out.append(parse_matcher(m))
            elif isinstance(m, dict):
                out.append(matcher_from_dict(m))
            else:
                raise SilenceError(f"expected text or an object, got {m!r}")
        except SilenceError as exc:
            raise SilenceError(f"matchers[{i}]: {exc}") from None
    return out


def _text(body: Mapping[str, Any], field: str, default: str | None = None) -> str:
    value = body.get(field)
    if value is None:
        return default or ""
    if not isinstance(value, str):
        raise SilenceError(f"{field}: expected text, got {value!r}")
    return value


def _window(body: Mapping[str, Any], now: float) -> tuple[float, float]:
    start = _time(body, "starts_at", now)
    assert start is not None
    end = _time(body, "ends_at", None)
    if end is None:
        duration = body.get("duration")
        if not isinstance(duration, str | int | float) or isinstance(duration, bool):
            raise SilenceError("ends_at: give ends_at or duration (e.g. 2h)")
        try:
            end = start + (
                parse_duration(duration) if isinstance(duration, str) else float(duration)
            )
        except ValueError as exc:
            raise SilenceError(f"duration: {exc}") from None
    return start, end


async def _json(request: Request) -> dict[str, Any]:
    if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
        raise HTTPException(415, "send the body as JSON (Content-Type: application/json)")
    try:
        body = await request.json()
    except ValueError:
        raise HTTPException(400, "the body is not valid JSON") from None
    if not isinstance(body, dict):
        raise HTTPException(400, "the body must be a JSON object")
    return body


def alert_dict(a: ActiveAlert) -> dict[str, Any]:
    """One firing alert as ``GET /api/v1/alerts`` lists it."""
    return {
        "fingerprint": a.fingerprint,
        "labels": a.labels,
        "started_at": a.started_at,
        "notified": a.notified,
        "silenced_by": list(a.silenced_by),
        "acknowledged_by": a.acked_by,
        "acknowledged_at": a.acked_at,
    }


def silence_router(
    center: AlertCenter, access: WriteAccess, *, clock: Callable[[], float] = time.time
) -> APIRouter:
    """The silence and acknowledgement routes over ``center``."""
    router = APIRouter(prefix="/api/v1", tags=["silences"])

    @router.get("/silences")
    def list_silences(
        state: str | None = Query(None, description=f"only silences in this state: {_STATES}"),
    ) -> dict[str, Any]:
        """Every stored silence, latest end first."""
        if state is not None and state not in _STATES:
            raise HTTPException(400, f"query parameter state must be one of {_STATES}")
        now = clock()
        return {
            "silences": [
                silence_dict(s, now)
                for s in center.silences.all()
                if state is None or s.state(now).value == state
            ]
        }

    @router.post("/silences", status_code=201)
    async def create_silence(request: Request) -> JSONResponse:
        """Create a silence; a future ``starts_at`` makes it a maintenance window."""
        user = await access.check(request)
        body = await _json(request)
        now = clock()
        try:
            start, end = _window(body, now)
            silence = center.silences.add(
                _matchers(body.get("matchers")),
                starts_at=start,
                ends_at=end,
                created_by=_text(body, "created_by", user),
                comment=_text(body, "comment"),
                now=now,
            )
        except SilenceError as exc:
            raise HTTPException(400, str(exc)) from None
        return JSONResponse({"silence": silence_dict(silence, now)}, status_code=201)

    @router.delete("/silences/{silence_id}")
    async def expire_silence(silence_id: str, request: Request) -> dict[str, Any]:
        """Expire a silence now (it stays listed, expired, until pruned)."""
        await access.check(request)
        now = clock()
        try:
            silence = center.silences.expire(silence_id, now)
        except KeyError:
            raise HTTPException(404, f"no silence with id {silence_id!r}") from None
        return {"silence": silence_dict(silence, now)}

    @router.post("/alerts/{fp}/ack")
    async def acknowledge(fp: str, request: Request) -> dict[str, Any]:
        """Acknowledge a firing alert: no reminders until it resolves."""
        user = await access.check(request)
        body = await _json(request)
        try:
            by = _text(body, "by", user).strip()
            comment = _text(body, "comment")
        except SilenceError as exc:
            raise HTTPException(400, str(exc)) from None
        if not by:
            raise HTTPException(400, "by: say who acknowledges")
        try:
            alert = center.acknowledge(fp, by, comment, clock())
        except NotFiring as exc:
            raise HTTPException(404, str(exc)) from None
        except NotLeader as exc:  # a follower of replicas sharing a database commits nothing
            raise HTTPException(503, f"{exc}; acknowledge through the leader (/readyz)") from None
        return {"alert": alert_dict(alert)}

    return router
