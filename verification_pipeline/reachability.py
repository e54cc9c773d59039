"""Is the service under test there at all? Asked once, before minutes of load are spent on it."""

from __future__ import annotations

import socket
from urllib.parse import urlsplit

from verification_pipeline.errors import TargetError


def check_reachable(url: str, timeout_s: float = 5.0) -> None:
    """Fail fast with the cause the OS gave (refused, unknown host, timeout) instead of a generic error."""
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        socket.create_connection((parts.hostname, port), timeout=timeout_s).close()
    except OSError as exc:
        cause = exc.strerror or type(exc).__name__
        raise TargetError(f"{url}: cannot connect to {parts.hostname}:{port}: {cause}") from None
