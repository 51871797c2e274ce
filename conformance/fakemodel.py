"""A scripted OpenAI-compatible model server for the framework conformance runs (offline).

Speaks enough of the OpenAI HTTP API for the agent frameworks of ``conformance/`` to run their
multi-agent workloads without a real model: ``POST /v1/chat/completions`` (plain and streamed),
``POST /v1/responses`` (plain) and ``GET /v1/models``. Standard library only, so it runs in any
framework's environment, in a thread of the workload's own process, on 127.0.0.1.

What the "model" answers is decided by the workload: a function that sees the request, read
into a :class:`Turn` the same way for both APIs, and returns a :class:`Reply`::

    def decide(turn: Turn) -> Reply:
        if turn.offers("transfer_to_billing") and not turn.tool_results:
            return Reply.call("transfer_to_billing", {})
        return Reply.text("Your refund is on its way.")

    with FakeModel(decide) as model:
        client = OpenAI(base_url=model.base_url, api_key="test")

``Reply.fail(500)`` / ``Reply.fail(429)`` answer an error the way OpenAI does (with
``retry-after: 0`` so clients retry at once). Every answer reports ``usage`` from the reply
(default 100 input and 20 output tokens), so the token totals a capture should show are known.
:attr:`FakeModel.log` keeps each request's :class:`Turn` and reply, for the expectations.
"""

from __future__ import annotations

import itertools
import json
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from conformance.fakeanswers import chat_chunks, chat_completion, response, response_events

__all__ = ["FakeModel", "Reply", "Turn"]


@dataclass(frozen=True)
class Turn:
    """One request to the model, read the same way from Chat Completions and Responses."""

    api: str  # "chat" or "responses"
    model: str
    system: str  # system prompt / instructions, joined
    user: str  # the last user message
    tools: tuple[str, ...]  # names of the tools offered
    tool_results: tuple[str, ...]  # outputs of tool calls since the last user message
    tool_calls: tuple[str, ...]  # names of the tool calls made since the last user message
    stream: bool
    body: Mapping[str, Any] = field(repr=False)

    def offers(self, tool: str) -> bool:
        return tool in self.tools

    def said(self, text: str) -> bool:
        """Whether ``text`` appears in the system prompt or the last user message."""
        return text in self.system or text in self.user


@dataclass(frozen=True)
class Reply:
    """What the fake model answers: text, tool calls, or an HTTP error."""

    content: str | None = None
    calls: tuple[tuple[str, Mapping[str, Any]], ...] = ()
    status: int = 200
    input_tokens: int = 100
    output_tokens: int = 20

    @classmethod
    def text(cls, content: str, *, input_tokens: int = 100, output_tokens: int = 20) -> Reply:
        return cls(content=content, input_tokens=input_tokens, output_tokens=output_tokens)

    @classmethod
    def call(
        cls,
        name: str,
        arguments: Mapping[str, Any] | None = None,
        *,
        input_tokens: int = 100,
        output_tokens: int = 20,
    ) -> Reply:
        return cls(
            calls=((name, dict(arguments or {})),),
            input_tokens=input_tokens,
            output_tokens=output_tokens,
        )

    @classmethod
    def fail(cls, status: int) -> Reply:
        return cls(status=status, input_tokens=0, output_tokens=0)


def _text(content: Any) -> str:
    """Text of a message content: a string, or a list of parts with ``text``."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return ""


def _chat_turn(body: Mapping[str, Any]) -> Turn:
    messages: list[dict[str, Any]] = list(body.get("messages") or [])
    system = "\n".join(
        _text(m.get("content")) for m in messages if m.get("role") in ("system", "developer")
    )
    last_user = max((i for i, m in enumerate(messages) if m.get("role") == "user"), default=-1)
    user = _text(messages[last_user].get("content")) if last_user >= 0 else ""
    after = messages[last_user + 1 :]
    results = tuple(_text(m.get("content")) for m in after if m.get("role") == "tool")
    calls = tuple(
        str(tc.get("function", {}).get("name", ""))
        for m in after
        if m.get("role") == "assistant"
        for tc in (m.get("tool_calls") or [])
    )
    tools = tuple(str(t.get("function", {}).get("name", "")) for t in (body.get("tools") or []))
    return Turn(
        "chat",
        str(body.get("model", "")),
        system,
        user,
        tools,
        results,
        calls,
        bool(body.get("stream")),
        body,
    )


def _responses_turn(body: Mapping[str, Any]) -> Turn:
    items: Any = body.get("input") or []
    if isinstance(items, str):
        items = [{"role": "user", "content": items}]
    system = "\n".join(
        [str(body.get("instructions") or "")]
        + [_text(i.get("content")) for i in items if i.get("role") in ("system", "developer")]
    ).strip()
    last_user = max((n for n, i in enumerate(items) if i.get("role") == "user"), default=-1)
    user = _text(items[last_user].get("content")) if last_user >= 0 else ""
    after = items[last_user + 1 :]
    results = tuple(
        str(i.get("output", "")) for i in after if i.get("type") == "function_call_output"
    )
    calls = tuple(str(i.get("name", "")) for i in after if i.get("type") == "function_call")
    tools = tuple(
        str(t.get("name", "")) for t in (body.get("tools") or []) if t.get("type") == "function"
    )
    return Turn(
        "responses",
        str(body.get("model", "")),
        system,
        user,
        tools,
        results,
        calls,
        bool(body.get("stream")),
        body,
    )


class FakeModel:
    """The server; a context manager that serves on 127.0.0.1 in a daemon thread."""

    def __init__(self, decide: Callable[[Turn], Reply], *, port: int = 0) -> None:
        self.decide = decide
        self.log: list[tuple[Turn, Reply]] = []
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", port), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def __enter__(self) -> FakeModel:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def answer(self, turn: Turn) -> Reply:
        reply = self.decide(turn)
        with self._lock:
            self.log.append((turn, reply))
        return reply

    def next_id(self, prefix: str) -> str:
        with self._lock:
            return f"{prefix}_{next(self._ids):04d}"

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        model = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                if self.path.rstrip("/").endswith("/models"):
                    self._json(
                        200,
                        {
                            "object": "list",
                            "data": [{"id": "gpt-4o-mini", "object": "model", "owned_by": "fake"}],
                        },
                    )
                else:
                    self._json(404, {"error": {"message": "not found"}})

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                if self.path.endswith("/chat/completions"):
                    turn = _chat_turn(body)
                elif self.path.endswith("/responses"):
                    turn = _responses_turn(body)
                else:
                    self._json(404, {"error": {"message": f"no route {self.path}"}})
                    return
                reply = model.answer(turn)
                if reply.status != 200:
                    self._json(
                        reply.status,
                        {
                            "error": {
                                "message": f"injected {reply.status}",
                                "type": "server_error",
                                "code": None,
                                "param": None,
                            }
                        },
                        {"retry-after": "0", "retry-after-ms": "0"},
                    )
                elif turn.api == "chat" and turn.stream:
                    self._sse(chat_chunks(model.next_id, turn, reply))
                elif turn.api == "chat":
                    self._json(200, chat_completion(model.next_id, turn, reply))
                elif turn.stream:
                    self._sse(response_events(model.next_id, turn, reply))
                else:
                    self._json(200, response(model.next_id, turn, reply))

            def _json(self, status: int, payload: Any, headers: Mapping[str, str] = {}) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                for k, v in headers.items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

            def _sse(self, events: Iterator[Mapping[str, Any] | str]) -> None:
                self.send_response(200)
                self.send_header("content-type", "text/event-stream")
                self.send_header("connection", "close")
                self.end_headers()
                for event in events:
                    if isinstance(event, str):
                        self.wfile.write(f"data: {event}\n\n".encode())
                    else:
                        kind = event.get("type")
                        head = f"event: {kind}\n" if kind else ""
                        self.wfile.write(f"{head}data: {json.dumps(event)}\n\n".encode())
                self.wfile.flush()
                self.close_connection = True

        return Handler


def serve_forever(decide: Callable[[Turn], Reply], port: int) -> None:  # pragma: no cover
    """Run in the foreground (``python -m conformance.fakemodel``): answers text to everything."""
    with FakeModel(decide, port=port) as model:
        print(model.base_url, flush=True)
        threading.Event().wait()


if __name__ == "__main__":  # pragma: no cover
    import sys

    serve_forever(lambda turn: Reply.text("ok"), int(sys.argv[1]) if len(sys.argv) > 1 else 8099)
