"""Settings read from the environment, checked where they are read.

A bad value is a ConfigError (exit 2) that names the variable and shows what a good one looks
like, never a library's error from deep inside (botocore's "Invalid endpoint", int()'s
"invalid literal"). Read every VP_* setting through these.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from urllib.parse import urlsplit

from verification_pipeline.errors import ConfigError, shown

_MAX_SETTING_CHARS = 2048  # no URL, name or prefix a setting holds is longer


def env_text(
    env: Mapping[str, str], name: str, default: str, *, pattern: str | None = None, example: str
) -> str:
    """`env[name]` (or `default` when unset or empty), matching `pattern` when given."""
    value = env.get(name) or default
    if len(value) > _MAX_SETTING_CHARS or (pattern is not None and not re.fullmatch(pattern, value)):
        raise ConfigError(f"'{shown(value)}' is not a valid value", field=name, hint=f"e.g. {example}")
    return value


def env_url(env: Mapping[str, str], name: str, *, example: str) -> str | None:
    """An http(s) URL with a host (and a port in range), or None when unset or empty."""
    value = env.get(name) or None
    if value is None:
        return None
    try:
        parts = urlsplit(value)
        valid = (
            parts.scheme in ("http", "https") and bool(parts.hostname) and len(value) <= _MAX_SETTING_CHARS
        )
        _ = parts.port  # out of range or not a number: ValueError
    except ValueError:
        valid = False
    if not valid:
        raise ConfigError(
            f"'{shown(value)}' is not an http:// or https:// URL with a host",
            field=name,
            hint=f"e.g. {example}",
        )
    return value


def env_int(env: Mapping[str, str], name: str, default: int, *, low: int, high: int) -> int:
    """A whole number from `low` to `high`, or `default` when unset or empty."""
    raw = env.get(name) or ""
    if not raw:
        return default
    if not re.fullmatch(r"[0-9]{1,18}", raw.strip()) or not low <= int(raw) <= high:
        raise ConfigError(
            f"'{shown(raw)}' is not a whole number from {low} to {high}", field=name, hint=f"e.g. {default}"
        )
    return int(raw)


BASELINE_URL, BASELINE_TOKEN, BASELINE_RC = "VP_BASELINE_GRAPHQL_URL", "VP_BASELINE_JWT", "VP_BASELINE_RC"


def env_baseline_deployment(env: Mapping[str, str]) -> tuple[str, str]:
    """The concurrent baseline's GraphQL URL and RC label ("" and "" when none is given).

    A URL needs a token: VP_BASELINE_JWT, else the target's own (VP_TARGET_JWT or, in the
    embedded stack, its JWT secret file, which the baseline target shares).
    """
    url = env_url(env, BASELINE_URL, example="http://127.0.0.1:18341/graphql") or ""
    rc = env_text(env, BASELINE_RC, "", pattern=r"|[A-Za-z0-9][A-Za-z0-9._+-]{0,99}", example="v24.1.0-rc1")
    if url and not any(
        env.get(name) for name in (BASELINE_TOKEN, "VP_TARGET_JWT", "VP_TARGET_JWT_SECRET_FILE")
    ):
        raise ConfigError(
            f"{BASELINE_URL} is set but there is no token for that deployment",
            field=BASELINE_TOKEN,
            hint="set VP_BASELINE_JWT to a token with coherence:read and coherence:write",
        )
    return url, rc
