"""The OpenAI answer bodies the fake model sends (Chat Completions and Responses, plain and
streamed), built from a :class:`~conformance.fakemodel.Reply`; ``ids(prefix)`` numbers them."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from conformance.fakemodel import Reply, Turn

__all__ = ["chat_chunks", "chat_completion", "response", "response_events"]


def _usage_chat(reply: Reply) -> dict[str, int]:
    return {
        "prompt_tokens": reply.input_tokens,
        "completion_tokens": reply.output_tokens,
        "total_tokens": reply.input_tokens + reply.output_tokens,
    }


def _tool_calls(ids: Callable[[str], str], reply: Reply) -> list[dict[str, Any]]:
    return [
        {
            "id": ids("call"),
            "type": "function",
            "function": {"name": name, "arguments": json.dumps(args)},
        }
        for name, args in reply.calls
    ]


def chat_completion(ids: Callable[[str], str], turn: Turn, reply: Reply) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": reply.content, "refusal": None}
    if reply.calls:
        message["tool_calls"] = _tool_calls(ids, reply)
    return {
        "id": ids("chatcmpl"),
        "object": "chat.completion",
        "created": 1_765_000_000,
        "model": turn.model or "gpt-4o-mini",
        "choices": [
            {
                "index": 0,
                "message": message,
                "logprobs": None,
                "finish_reason": "tool_calls" if reply.calls else "stop",
            }
        ],
        "usage": _usage_chat(reply),
    }


def chat_chunks(
    ids: Callable[[str], str], turn: Turn, reply: Reply
) -> Iterator[Mapping[str, Any] | str]:
    base = {
        "id": ids("chatcmpl"),
        "object": "chat.completion.chunk",
        "created": 1_765_000_000,
        "model": turn.model or "gpt-4o-mini",
    }
    delta: dict[str, Any] = {"role": "assistant"}
    if reply.content is not None:
        delta["content"] = reply.content
    if reply.calls:
        delta["tool_calls"] = [dict(tc, index=n) for n, tc in enumerate(_tool_calls(ids, reply))]
    yield {**base, "choices": [{"index": 0, "delta": delta, "finish_reason": None}]}
    yield {
        **base,
        "choices": [
            {"index": 0, "delta": {}, "finish_reason": "tool_calls" if reply.calls else "stop"}
        ],
    }
    yield {**base, "choices": [], "usage": _usage_chat(reply)}
    yield "[DONE]"


def response(ids: Callable[[str], str], turn: Turn, reply: Reply) -> dict[str, Any]:
    output: list[dict[str, Any]] = []
    if reply.content is not None:
        output.append(
            {
                "type": "message",
                "id": ids("msg"),
                "status": "completed",
                "role": "assistant",
                "content": [{"type": "output_text", "text": reply.content, "annotations": []}],
            }
        )
    for name, args in reply.calls:
        output.append(
            {
                "type": "function_call",
                "id": ids("fc"),
                "call_id": ids("call"),
                "name": name,
                "arguments": json.dumps(args),
                "status": "completed",
            }
        )
    return {
        "id": ids("resp"),
        "object": "response",
        "created_at": 1_765_000_000,
        "status": "completed",
        "model": turn.model or "gpt-4o-mini",
        "output": output,
        "parallel_tool_calls": True,
        "tool_choice": "auto",
        "tools": [],
        "error": None,
        "incomplete_details": None,
        "instructions": None,
        "metadata": {},
        "temperature": 1.0,
        "top_p": 1.0,
        "text": {"format": {"type": "text"}},
        "usage": {
            "input_tokens": reply.input_tokens,
            "output_tokens": reply.output_tokens,
            "total_tokens": reply.input_tokens + reply.output_tokens,
            "input_tokens_details": {"cached_tokens": 0},
            "output_tokens_details": {"reasoning_tokens": 0},
        },
    }


def response_events(
    ids: Callable[[str], str], turn: Turn, reply: Reply
) -> Iterator[Mapping[str, Any]]:
    """A minimal Responses stream: created, one ``output_item.done`` per item, completed."""
    final = response(ids, turn, reply)
    start = dict(final, status="in_progress", output=[], usage=None)
    yield {"type": "response.created", "sequence_number": 0, "response": start}
    for n, item in enumerate(final["output"]):
        yield {
            "type": "response.output_item.added",
            "sequence_number": 1 + 2 * n,
            "output_index": n,
            "item": item,
        }
        yield {
            "type": "response.output_item.done",
            "sequence_number": 2 + 2 * n,
            "output_index": n,
            "item": item,
        }
    yield {
        "type": "response.completed",
        "sequence_number": 1 + 2 * len(final["output"]),
        "response": final,
    }
