"""Serve an ASGI app with a real uvicorn on 127.0.0.1 in a thread, as the daemon does."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn


@contextmanager
def serving(app: Any, port: int) -> Iterator[str]:
    """Yield the base URL while ``app`` is served (HTTP/1.1 over a socket); stop it after."""
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_config=None, lifespan="off", access_log=False
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
