"""Which build answered the load: the service's own report of its commit, read before any load.

A bundle that says "v24.1.0-rc1 met its SLOs" is only worth that if the service measured was
that RC. The reference target reports its build's commit on `GET /version` ({"commit": ...});
a real service is read from a configured URL and a JSON field or a response header. The commit
must equal the RC's; a service that cannot say needs an explicit waiver, and a waived check is
never a PASS.
"""

from __future__ import annotations

import httpx

from verification_pipeline.errors import ConfigError, GateFailed, TargetError
from verification_pipeline.jsonio import decode_json, shown
from verification_pipeline.records import ServiceBuildRecord

MAX_VERSION_BYTES = 64 * 1024
TIMEOUT_S = 10.0


def waived(expected_commit: str, reason: str) -> ServiceBuildRecord:
    if not reason.strip():
        raise ConfigError(
            "a waiver needs a reason (why this service cannot report its build)",
            field="service_build.config.waiver_reason",
        )
    return ServiceBuildRecord(
        expected_commit=expected_commit, reported_commit=None, source="waived", waiver=reason.strip()
    )


def read_service_build(
    expected_commit: str, url: str, *, field: str = "commit", header: str = "", timeout_s: float = TIMEOUT_S
) -> ServiceBuildRecord:
    """The service's reported commit, required to equal `expected_commit`; GateFailed when it does not.

    `header`: read this response header instead of the JSON `field`.
    """
    source = f"{url} [{'header ' + header if header else field}]"
    try:
        with httpx.stream("GET", url, timeout=timeout_s, follow_redirects=False) as response:
            status = response.status_code
            value = response.headers.get(header) if header else None
            body = bytearray()
            for chunk in response.iter_bytes():
                body += chunk
                if len(body) > MAX_VERSION_BYTES:
                    raise TargetError(f"{url}: the answer is over {MAX_VERSION_BYTES} bytes; not a version")
    except httpx.HTTPError as exc:
        raise TargetError(
            f"cannot read the service's build from {url}: {type(exc).__name__}",
            hint="set the target's version_url, or waive the check in run config (service_build.config)",
        ) from None
    if status != 200:
        raise TargetError(
            f"{url} answered HTTP {status}, not the service's build",
            hint="set the target's version_url, or waive the check in run config (service_build.config)",
        )
    if not header:
        document = decode_json(bytes(body), url, expected="a JSON object with the build's commit")
        value = document.get(field) if isinstance(document, dict) else None
    if not isinstance(value, str) or not value.strip():
        raise TargetError(
            f"{source}: no commit reported (got {shown(value)})",
            hint="start the service with its build commit, or waive the check in run config",
        )
    build = ServiceBuildRecord(expected_commit=expected_commit, reported_commit=value.strip(), source=source)
    if not build.verified:
        raise GateFailed(
            f"{source}: the service reports build {value.strip()[:12]}, but the RC is commit "
            f"{expected_commit[:12]}; the run stops before any load",
            hint="deploy the RC to the target (or point the pipeline at the service running it)",
        )
    return build
