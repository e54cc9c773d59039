"""Is the service under test there at all? Asked once, before minutes of load are spent on it."""

from __future__ import annotations

import socket
from urllib.parse import urlsplit

from verification_pipeline.errors import ConfigError, TargetError


def check_http_url(url: str, *, field: str, example: str = "http://127.0.0.1:4000/graphql") -> None:
    """Refuse what is not an http(s) URL with a host and a valid port (99999 and `:abc` are not)."""
    try:
        parts = urlsplit(url)
    except ValueError as exc:  # e.g. "Invalid IPv6 URL" for an unclosed bracket
        raise ConfigError(f"{url!r} is not a URL: {exc}", field=field, hint=f"e.g. {example}") from None
    try:
        parts.port  # noqa: B018 - urlsplit checks the port only when asked for it
    except ValueError:
        raise ConfigError(
            f"{url!r} has an invalid port (a number from 1 to 65535)", field=field, hint=f"e.g. {example}"
        ) from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"{url!r} is not an http(s) URL", field=field, hint=f"e.g. {example}")


def check_reachable(url: str, timeout_s: float = 5.0) -> None:
    """Fail fast with the cause the OS gave (refused, unknown host, timeout) instead of a generic error."""
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        socket.create_connection((parts.hostname, port), timeout=timeout_s).close()
    except OSError as exc:
        cause = exc.strerror or type(exc).__name__
        raise TargetError(f"{url}: cannot connect to {parts.hostname}:{port}: {cause}") from None
