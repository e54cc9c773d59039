"""Run the target under uvicorn (uvloop + httptools), on a socket bound before startup.

Binding the socket ourselves lets `--port 0` pick a free port and report it: once the app
has started, the address is logged and, with `--ready-file`, written as JSON
(`{"host", "port", "pid", "base_url", "graphql_url"}`) for whoever started the process.
"""

from __future__ import annotations

import gc
import json
import logging
import os
import socket
from pathlib import Path

import uvicorn

from reference_target.app import create_app
from reference_target.config import TargetConfig
from reference_target.realtime import MAX_MESSAGE_BYTES
from verification_pipeline.errors import StackError
from verification_pipeline.fileio import atomic_write

log = logging.getLogger("reference_target")


def serve(config: TargetConfig) -> None:
    """Serve until SIGINT/SIGTERM."""
    listener = _listen(config.host, config.port)
    _log_to_stderr()
    host, port = listener.getsockname()[:2]
    base_url = f"http://{_url_host(host)}:{port}"

    def announce() -> None:
        log.info("reference target listening on %s (GraphQL at /graphql, Socket.IO at /socket.io)", base_url)
        if config.ready_file is not None:
            _write_ready_file(
                config.ready_file,
                {
                    "host": host,
                    "port": port,
                    "pid": os.getpid(),
                    "base_url": base_url,
                    "graphql_url": f"{base_url}/graphql",
                },
            )

    target = create_app(config, on_ready=announce)
    _spare_the_collector()
    server = uvicorn.Server(
        uvicorn.Config(
            target.asgi,
            loop="uvloop",
            http="httptools",
            ws="websockets-sansio",
            ws_max_size=MAX_MESSAGE_BYTES,
            lifespan="on",
            log_level=config.log_level,
            access_log=False,
            # Loopback service, no proxy in front: client addresses are what the socket says.
            proxy_headers=False,
            limit_concurrency=config.max_connections,
            timeout_graceful_shutdown=3,
            backlog=2048,
        )
    )
    server.run(sockets=[listener])


# Allocations between young collections. CPython's default (700) made the collector run every few
# ms while 1,000 subscribers were sent an event each, and promoted their connections' objects into
# the oldest generation, whose full passes took 100-210 ms, seven times in a 50-event fan-out run:
# every such pass held the events of that moment for every subscriber, and was the 1,000-subscriber
# p95 (benchmarks/RESULTS.md, issue 24). Reference counting frees almost all of the target's
# garbage; the collector only has cycles to find, and can look for them far less often.
GC_THRESHOLDS = (100_000, 20, 100)


def _spare_the_collector() -> None:
    """Leave the heap built at start-up out of every collection, and collect cycles rarely."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


def _log_to_stderr() -> None:
    # uvicorn configures only its own loggers; the target's lines (address, internal errors) need a handler too.
    if not log.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        log.addHandler(handler)
        log.setLevel(logging.INFO)


def _listen(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listener = socket.socket(family, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listener.bind((host, port))
    except OSError as error:
        listener.close()
        raise StackError(
            f"the target cannot listen on {host}:{port}: {error.strerror}",
            hint="pick another --port, or --port 0 for a free one",
        ) from None
    listener.listen(2048)
    listener.set_inheritable(True)
    return listener


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def _write_ready_file(path: Path, info: dict) -> None:
    # Written whole then renamed, so a reader never sees half a file.
    atomic_write(path, json.dumps(info).encode())
