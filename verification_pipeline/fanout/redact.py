"""Keep the probe's token out of every message it produces.

Library and server error texts can echo request details; anything that may reach a log, an
error or a report passes through here first.
"""

from __future__ import annotations


def redact_token(message: str, token: str) -> str:
    return message.replace(token, "<token>") if token else message
