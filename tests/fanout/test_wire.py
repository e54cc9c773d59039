"""The subscribers' own Engine.IO client: what it says when there is no Socket.IO server."""

from __future__ import annotations

import http.server
import socket
import threading
import time

import pytest

from verification_pipeline.cli import main
from verification_pipeline.errors import TargetError
from verification_pipeline.fanout.probe import ProbeConfig, run_probe


class _Plain(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b"plain HTTP, no Socket.IO here"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_args: object) -> None:
        pass


def test_a_plain_http_server_is_named_as_no_socketio_server_not_a_refusal():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Plain)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/graphql"
        token = "header.payload.signature-not-to-be-shown"
        with pytest.raises(TargetError) as caught:
            run_probe(ProbeConfig(url=url, token=token, subscribers=2, events=1, connect_timeout_s=5))
    finally:
        server.shutdown()
        server.server_close()
    message = str(caught.value)
    assert "no Socket.IO handshake with" in message and "is a Socket.IO server there?" in message
    assert "refused" not in message and token not in message


def test_a_server_that_accepts_and_never_answers_fails_within_the_connect_timeout(capsys):
    # a real loopback blackhole: the kernel completes the TCP handshake for a listening socket
    # that never accepts, so the connection is made and no byte ever comes back
    blackhole = socket.create_server(("127.0.0.1", 0), backlog=64)
    started = time.monotonic()
    try:
        url = f"http://127.0.0.1:{blackhole.getsockname()[1]}/graphql"
        code = main(["fanout", "run", "--url", url, "--token", "t.o.k", "--connect-timeout", "1"])
    finally:
        blackhole.close()
    took = time.monotonic() - started
    err = capsys.readouterr().err
    assert code == 2, err
    assert took < 15, f"took {took:.1f} s"  # was 53 s: every subscriber's timeout in turn
    assert "no Socket.IO handshake" in err and "within 1 s" in err
    assert "--connect-timeout" in err  # the option the hint names exists: this call used it
