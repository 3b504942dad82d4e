"""The suite's gateways: the settings every test app starts from (`make_settings`) and a real
uvicorn server for an app (`serve_app`), for tests that need a real address or real concurrency.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn

from shared.settings import CoreSettings


def make_settings(database_url: str, **overrides: object) -> CoreSettings:
    values: dict[str, object] = {
        "database_url": database_url,
        "rate_limit_per_minute": 100_000,
        # New signing keys sign at once (the delay equals this cooldown); tests of the delay
        # itself set their own.
        "unknown_kid_cooldown_seconds": 0,
        "log_format": "text",
        # Rule changes act directly, as before four eyes; tests/governance/ turns it on.
        "four_eyes": "none",
    }
    values.update(overrides)
    return CoreSettings.model_validate(values)


@contextmanager
def serve_app(app: Any) -> Iterator[str]:
    """Serve an ASGI app on a real uvicorn server in a thread; yield its base URL."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline:
            raise TimeoutError("uvicorn did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
