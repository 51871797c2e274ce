"""A fake Slack on 127.0.0.1: the Web API methods sloguard uses, and an incoming webhook.

Not a test module: tests start it as a context manager and point real slack-sdk clients at it
(``WebClient(base_url=fake.base_url)``, ``WebhookClient(fake.webhook_url)``)::

    with FakeSlack(token="xoxb-test") as slack:
        slack.script(Answer(429, "ratelimited", retry_after="7"))   # the next Web API call
        ...
        assert slack.calls_to("chat.postMessage")[0].params["channel"] == "#alerts"

What it does like Slack (from the Web API and incoming-webhook documentation):

- Web API at ``/api/<method>``, POST with a form (``application/x-www-form-urlencoded``, where
  ``blocks`` is a JSON string) or JSON body; the token as ``Authorization: Bearer …`` or a
  ``token`` field. A missing token answers ``not_authed``, a wrong one ``invalid_auth``, an
  unknown method HTTP 404 ``unknown_method``; errors are HTTP 200 ``{"ok": false, "error": …}``.
- ``chat.postMessage``: ``channel`` as an id (``C123``) or a name (``alerts``, ``#alerts``);
  unknown → ``channel_not_found``, archived → ``is_archived``; neither text nor blocks →
  ``no_text``; text over 40,000 chars → ``msg_too_long``; blocks over Block Kit's limits (50
  blocks, header 150, section text 3,000, 10 fields of 2,000) → ``invalid_blocks`` with
  ``response_metadata.messages``. Answers ``{"ok": true, "channel": <id>, "ts": …, "message":
  {…}}``; ``ts`` values are unique and increasing (``1700000000.000100``, ``…000101``, …).
- ``chat.postMessage`` with ``metadata`` (``{"event_type": …, "event_payload": {…}}``; else
  ``invalid_metadata_format``) stores it with the message.
- ``chat.update``: ``channel`` must be an id and ``ts`` a message in it (else
  ``channel_not_found`` / ``message_not_found``); the stored message is replaced.
- ``conversations.history``: ``channel`` must be an id (else ``channel_not_found``); the
  channel's messages that are not thread replies, newest first; ``conversations.replies``:
  ``channel`` an id and ``ts`` a message in it (else ``thread_not_found``); that message and its
  replies, oldest first. Both: ``oldest`` / ``latest`` (exclusive unless ``inclusive``),
  ``limit`` (history default 100, replies 1000; at most 999 and 1000), ``cursor`` pagination
  (``has_more``, ``response_metadata.next_cursor``; a bad cursor ``invalid_cursor``); a
  message's ``metadata`` only with ``include_all_metadata``.
- ``auth.test``: the bot's identity.
- Incoming webhook at ``webhook_url`` (``/services/T…/B…/<secret>``): a JSON body with text or
  blocks answers 200 ``ok`` (text/html); a body that is not JSON 400 ``invalid_payload``; no
  text 400 ``missing_text_or_fallback_or_attachments``; any other ``/services/`` path 404
  ``no_service``.

A scripted :class:`Answer` replaces the next call's answer (the call is still recorded); with
``accept`` the call is carried out first (a post is stored) and only its answer is late, dropped
or replaced: Slack accepted it but the client may not know. A thread reply to an unknown
``thread_ts`` is accepted (what Slack does there is not documented).
"""

from __future__ import annotations

import base64
import binascii
import json
import threading
import urllib.parse
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol

DEFAULT_TOKEN = "xoxb-fake-0000-token"
MAX_TEXT = 40_000
TEAM = "T000FAKE"
BOT_USER = "U000BOT"
BOT_ID = "B000BOT"


@dataclass(frozen=True)
class Answer:
    """A scripted answer: HTTP ``status``; the Web API body ``{"ok": false, "error": error}``
    (a webhook's body is ``error`` itself); or ``body`` as given (an HTML error page); after
    ``delay`` seconds. ``drop`` closes the connection without answering. ``accept`` carries the
    call out first (a post is stored): the answer, after ``delay``, is then the real one unless
    ``drop``, ``error`` or ``body`` replace it."""

    status: int = 200
    error: str | None = None
    retry_after: str | None = None
    body: bytes | None = None
    delay: float = 0.0
    drop: bool = False
    accept: bool = False


@dataclass(frozen=True)
class Call:
    """One request the fake got: ``method`` is the Web API method or ``"webhook"``."""

    method: str
    path: str
    headers: Mapping[str, str]
    content_type: str
    params: Mapping[str, Any] = field(default_factory=dict)

    @property
    def token(self) -> str | None:
        """The token sent, from ``Authorization: Bearer`` or the ``token`` field."""
        auth = next((v for k, v in self.headers.items() if k.lower() == "authorization"), "")
        if auth.startswith("Bearer "):
            return auth.removeprefix("Bearer ").strip()
        token = self.params.get("token")
        return token if isinstance(token, str) else None


def _block_problems(blocks: Any) -> list[str]:
    """Block Kit limits Slack enforces, as Slack words its ``invalid_blocks`` messages."""
    if not isinstance(blocks, list):
        return ["[ERROR] must be an array [json-pointer:/blocks]"]
    problems = []
    if len(blocks) > 50:
        problems.append("[ERROR] no more than 50 items allowed [json-pointer:/blocks]")
    for i, block in enumerate(blocks):
        where = f"[json-pointer:/blocks/{i}"
        if not isinstance(block, dict) or "type" not in block:
            problems.append(f"[ERROR] missing required field: type {where}]")
            continue
        text = block.get("text")
        text_value = text.get("text", "") if isinstance(text, dict) else ""
        if block["type"] == "header" and len(text_value) > 150:
            problems.append(f"[ERROR] must be less than 151 characters {where}/text/text]")
        if block["type"] == "section":
            if len(text_value) > 3000:
                problems.append(f"[ERROR] must be less than 3001 characters {where}/text/text]")
            fields = block.get("fields", [])
            if len(fields) > 10:
                problems.append(f"[ERROR] no more than 10 items allowed {where}/fields]")
            for j, f in enumerate(fields):
                if len(f.get("text", "")) > 2000:
                    problems.append(
                        f"[ERROR] must be less than 2001 characters {where}/fields/{j}/text]"
                    )
            if not text_value and not fields:
                problems.append(f"[ERROR] must provide text or fields {where}]")
        if block["type"] == "context" and not 1 <= len(block.get("elements", [])) <= 10:
            problems.append(f"[ERROR] must have 1 to 10 elements {where}/elements]")
    return problems


class _Replier(Protocol):
    def reply(
        self,
        status: int,
        body: bytes,
        content_type: str = ...,
        headers: Mapping[str, str] | None = ...,
    ) -> None: ...


class _Server(ThreadingHTTPServer):
    daemon_threads = False  # server_close() joins the handler threads
    fake: FakeSlack

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that gave up (timeout) makes the answer fail to send; that is expected."""


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"
    timeout = 5.0  # an idle keep-alive connection cannot hold up server_close() for long

    def do_POST(self) -> None:
        self.server.fake._handle(self)

    def do_GET(self) -> None:
        self.server.fake._handle(self)

    def reply(
        self,
        status: int,
        body: bytes,
        content_type: str = "application/json; charset=utf-8",
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""


class FakeSlack:
    """The fake server; ``channels`` maps names to ids, ``archived`` holds archived names."""

    def __init__(
        self,
        *,
        token: str = DEFAULT_TOKEN,
        channels: Mapping[str, str] | None = None,
        archived: frozenset[str] = frozenset(),
        webhook_path: str = "/services/T000FAKE/B000FAKE/fakeWebhookSecret0123",
    ) -> None:
        self.token = token
        self.channels = dict(channels or {"alerts": "C123", "old-alerts": "C999"})
        self.archived = archived
        self.webhook_path = webhook_path
        self.calls: list[Call] = []
        #: (channel id, ts) → the message as last posted or updated
        self.messages: dict[tuple[str, str], dict[str, Any]] = {}
        self.webhook_messages: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self._api_script: deque[Answer] = deque()
        self._webhook_script: deque[Answer] = deque()
        self._seq = 0
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.fake = self
        host, port = self._server.server_address[:2]
        self.url = f"http://{host!s}:{port}"
        self.base_url = f"{self.url}/api/"
        self.webhook_url = f"{self.url}{webhook_path}"
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.02,))
        self._stopped = False

    # --- control ---------------------------------------------------------------------------

    def script(self, *answers: Answer, webhook: bool = False) -> None:
        """Answer the next ``len(answers)`` Web API (or webhook) calls with these, in order."""
        with self.lock:
            (self._webhook_script if webhook else self._api_script).extend(answers)

    def calls_to(self, method: str) -> list[Call]:
        """The recorded calls of one method (``"webhook"`` for the incoming webhook)."""
        with self.lock:
            return [c for c in self.calls if c.method == method]

    def __enter__(self) -> FakeSlack:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        """Stop serving and close the port (later requests are refused); idempotent."""
        if self._stopped:
            return
        self._stopped = True
        self.stopping.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    # --- requests --------------------------------------------------------------------------

    def _handle(self, handler: _Handler) -> None:
        raw = handler.rfile.read(int(handler.headers.get("Content-Length") or 0))
        content_type = handler.headers.get("Content-Type", "")
        url = urllib.parse.urlsplit(handler.path)
        if url.path.startswith("/api/"):
            method = url.path.removeprefix("/api/")
            params = self._api_params(content_type, raw, url.query)
        else:
            method = "webhook"
            try:
                params = json.loads(raw) if raw else {}
            except ValueError:
                params = {"_raw": raw.decode(errors="replace")}
        call = Call(method, url.path, dict(handler.headers), content_type, params)
        with self.lock:
            self.calls.append(call)
            queue = self._webhook_script if method == "webhook" else self._api_script
            scripted = queue.popleft() if queue else None
        if scripted is not None and scripted.accept:
            self._accepted(handler, call, scripted)
        elif scripted is not None:
            self._scripted(handler, scripted, webhook=method == "webhook")
        elif method == "webhook":
            self._webhook(handler, url.path, params)
        else:
            self._api(handler, call)

    def _accepted(self, handler: _Handler, call: Call, answer: Answer) -> None:
        """Carry the call out, then answer late, not at all, or with the scripted answer."""
        late = _Late(handler)
        if call.method == "webhook":
            self._webhook(late, call.path, call.params)
        else:
            self._api(late, call)
        if answer.drop or answer.error is not None or answer.body is not None:
            self._scripted(handler, answer, webhook=call.method == "webhook")
            return
        self.stopping.wait(answer.delay)
        if late.answer is not None:
            handler.reply(*late.answer)

    @staticmethod
    def _api_params(content_type: str, raw: bytes, query: str) -> dict[str, Any]:
        params: dict[str, Any] = dict(urllib.parse.parse_qsl(query))
        if content_type.startswith("application/json"):
            body = json.loads(raw) if raw else {}
            params.update(body if isinstance(body, dict) else {})
        else:
            params.update(urllib.parse.parse_qsl(raw.decode()))
            for key in ("blocks", "attachments", "metadata"):  # JSON strings in a form
                if isinstance(params.get(key), str):
                    params[key] = json.loads(params[key])
        return params

    def _scripted(self, handler: _Handler, answer: Answer, *, webhook: bool) -> None:
        self.stopping.wait(answer.delay)
        if answer.drop:
            handler.close_connection = True
            return
        headers = {"Retry-After": answer.retry_after} if answer.retry_after is not None else {}
        if answer.body is not None:
            handler.reply(answer.status, answer.body, "text/html", headers)
        elif webhook:
            handler.reply(answer.status, (answer.error or "ok").encode(), "text/html", headers)
        elif answer.error is not None:
            body = json.dumps({"ok": False, "error": answer.error}).encode()
            handler.reply(answer.status, body, headers=headers)
        else:
            handler.reply(answer.status, b'{"ok": true}', headers=headers)

    def _api(self, handler: _Replier, call: Call) -> None:
        methods: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
            "chat.postMessage": self._post_message,
            "chat.update": self._update,
            "conversations.history": self._history,
            "conversations.replies": self._replies,
            "auth.test": self._auth_test,
        }
        action = methods.get(call.method)
        if action is None:
            handler.reply(404, json.dumps({"ok": False, "error": "unknown_method"}).encode())
            return
        if call.token is None:
            answer: dict[str, Any] = {"ok": False, "error": "not_authed"}
        elif call.token != self.token:
            answer = {"ok": False, "error": "invalid_auth"}
        else:
            with self.lock:
                answer = action(dict(call.params))
        handler.reply(200, json.dumps(answer).encode())

    @staticmethod
    def _auth_test(p: dict[str, Any]) -> dict[str, Any]:
        return {"ok": True, "team_id": TEAM, "user_id": BOT_USER, "bot_id": BOT_ID}

    def _channel_id(self, channel: Any) -> str | None:
        if not isinstance(channel, str):
            return None
        name = channel.removeprefix("#")
        if name in self.channels:
            return self.channels[name]
        return channel if channel in self.channels.values() else None

    def _post_message(self, p: dict[str, Any]) -> dict[str, Any]:
        channel = self._channel_id(p.get("channel"))
        if channel is None:
            return {"ok": False, "error": "channel_not_found"}
        if any(self.channels[name] == channel for name in self.archived):
            return {"ok": False, "error": "is_archived"}
        problem = self._content_problem(p)
        if problem is not None:
            return problem
        metadata = p.get("metadata")
        if metadata is not None and not (
            isinstance(metadata, dict)
            and isinstance(metadata.get("event_type"), str)
            and isinstance(metadata.get("event_payload"), dict)
        ):
            return {"ok": False, "error": "invalid_metadata_format"}
        self._seq += 1
        ts = f"1700000000.{99 + self._seq:06d}"
        message: dict[str, Any] = {
            "type": "message",
            "user": BOT_USER,
            "bot_id": BOT_ID,
            "team": TEAM,
            "text": p.get("text", ""),
            "blocks": p.get("blocks", []),
            "ts": ts,
        }
        if p.get("thread_ts"):
            message["thread_ts"] = str(p["thread_ts"])
        if metadata is not None:
            message["metadata"] = metadata
        self.messages[(channel, ts)] = message
        return {"ok": True, "channel": channel, "ts": ts, "message": message}

    def _update(self, p: dict[str, Any]) -> dict[str, Any]:
        channel, ts = p.get("channel"), p.get("ts")
        if channel not in self.channels.values():
            return {"ok": False, "error": "channel_not_found"}  # an id is required here
        key = (str(channel), str(ts))
        if key not in self.messages:
            return {"ok": False, "error": "message_not_found"}
        problem = self._content_problem(p)
        if problem is not None:
            return problem
        message = {**self.messages[key], "text": p.get("text", ""), "blocks": p.get("blocks", [])}
        message["edited"] = {"user": BOT_USER, "ts": key[1]}
        self.messages[key] = message
        return {
            "ok": True,
            "channel": channel,
            "ts": ts,
            "text": message["text"],
            "message": message,
        }

    def _history(self, p: dict[str, Any]) -> dict[str, Any]:
        channel = p.get("channel")
        if channel not in self.channels.values():
            return {"ok": False, "error": "channel_not_found"}  # an id is required here
        found = [
            m
            for (c, _), m in self.messages.items()
            if c == channel and m.get("thread_ts", m["ts"]) == m["ts"]
        ]
        return self._page(p, found[::-1], default_limit=100, max_limit=999)

    def _replies(self, p: dict[str, Any]) -> dict[str, Any]:
        channel, ts = p.get("channel"), p.get("ts")
        if channel not in self.channels.values():
            return {"ok": False, "error": "channel_not_found"}
        if (channel, ts) not in self.messages:
            return {"ok": False, "error": "thread_not_found"}
        found = [
            m
            for (c, t), m in self.messages.items()
            if c == channel and (t == ts or m.get("thread_ts") == ts)
        ]
        return self._page(p, found, default_limit=1000, max_limit=1000)

    @staticmethod
    def _page(
        p: Mapping[str, Any], found: list[dict[str, Any]], *, default_limit: int, max_limit: int
    ) -> dict[str, Any]:
        """One page of messages: time range, limit, cursor (an opaque offset), metadata."""
        inclusive = str(p.get("inclusive", "0")).lower() in {"1", "true"}
        oldest, latest = float(p.get("oldest") or 0), p.get("latest")
        newest = float(latest) if latest else float("inf")

        def within(ts: float) -> bool:
            if inclusive:
                return oldest <= ts <= newest
            return oldest < ts < newest

        found = [m for m in found if within(float(m["ts"]))]
        try:
            limit = min(int(p.get("limit") or default_limit), max_limit)
            cursor = str(p.get("cursor") or "")
            start = (
                int(base64.b64decode(cursor, validate=True).removeprefix(b"next:")) if cursor else 0
            )
        except (ValueError, binascii.Error):
            return {"ok": False, "error": "invalid_cursor"}
        if limit < 1:
            limit = default_limit
        page = found[start : start + limit]
        with_metadata = str(p.get("include_all_metadata", "0")).lower() in {"1", "true"}
        messages = [
            m if with_metadata else {k: v for k, v in m.items() if k != "metadata"} for m in page
        ]
        more = start + limit < len(found)
        next_cursor = base64.b64encode(f"next:{start + limit}".encode()).decode() if more else ""
        return {
            "ok": True,
            "messages": messages,
            "has_more": more,
            "response_metadata": {"next_cursor": next_cursor},
        }

    @staticmethod
    def _content_problem(p: Mapping[str, Any]) -> dict[str, Any] | None:
        text, blocks = p.get("text"), p.get("blocks")
        if not text and not blocks:
            return {"ok": False, "error": "no_text"}
        if isinstance(text, str) and len(text) > MAX_TEXT:
            return {"ok": False, "error": "msg_too_long"}
        problems = _block_problems(blocks) if blocks is not None else []
        if problems:
            return {
                "ok": False,
                "error": "invalid_blocks",
                "response_metadata": {"messages": problems},
            }
        return None

    def _webhook(self, handler: _Replier, path: str, params: Mapping[str, Any]) -> None:
        if path != self.webhook_path:
            status, body = (404, "no_service")
        elif "_raw" in params or not isinstance(params, dict):
            status, body = (400, "invalid_payload")
        elif not params.get("text") and not params.get("blocks"):
            status, body = (400, "missing_text_or_fallback_or_attachments")
        elif params.get("blocks") is not None and _block_problems(params["blocks"]):
            status, body = (400, "invalid_blocks")
        else:
            with self.lock:
                self.webhook_messages.append(dict(params))
            status, body = (200, "ok")
        handler.reply(status, body.encode(), "text/html")


class _Late:
    """Stands in for the handler while an accepted call is carried out: keeps its answer."""

    def __init__(self, handler: _Handler) -> None:
        self.handler = handler
        self.answer: tuple[int, bytes, str, Mapping[str, str] | None] | None = None

    def reply(
        self,
        status: int,
        body: bytes,
        content_type: str = "application/json; charset=utf-8",
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.answer = (status, body, content_type, headers)
