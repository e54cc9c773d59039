"""/admin/faults: change the injected faults of a running target (tests, demos).

Every call needs `X-Admin-Token` equal to the token in `--admin-token-file`; without that
file the admin API is off. GET shows the faults in force; POST applies a partial update
(`{"error_rate": 0.5}`; `null` switches a fault off); DELETE restores the startup flags.
All three answer `{"faults": {...}}`.
"""

from __future__ import annotations

import hmac
import json

from starlette.requests import Request
from starlette.responses import JSONResponse

from reference_target.faults import FaultInjector
from reference_target.limiter import AdmissionControl
from verification_pipeline.errors import ConfigError

MAX_ADMIN_BODY_BYTES = 4096


class FaultsAdmin:
    """The Starlette endpoint for /admin/faults (mount `handle` with `max_body_size=MAX_ADMIN_BODY_BYTES`)."""

    def __init__(self, faults: FaultInjector, admission: AdmissionControl, admin_token: str | None) -> None:
        self._faults = faults
        self._admission = admission
        self._admin_token = admin_token.encode() if admin_token else None

    async def handle(self, request: Request) -> JSONResponse:
        refusal = self._refuse(request)
        if refusal is not None:
            return refusal
        if request.method == "DELETE":
            self._apply_reset()
        elif request.method == "POST":
            try:
                changes = json.loads(await request.body() or b"{}")
            except ValueError as error:
                return _error(400, f"body is not JSON: {error}")
            if not isinstance(changes, dict):
                return _error(400, 'body must be a JSON object like {"error_rate": 0.5}')
            try:
                settings = self._faults.settings.updated(changes, source="POST /admin/faults")
            except ConfigError as error:
                return _error(400, str(error))
            self._faults.replace(settings)
            self._admission.set_rps_limit(settings.rps_limit)
        return JSONResponse({"faults": self._faults.settings.model_dump(mode="json")})

    def _apply_reset(self) -> None:
        self._faults.reset()
        self._admission.set_rps_limit(self._faults.settings.rps_limit)

    def _refuse(self, request: Request) -> JSONResponse | None:
        if self._admin_token is None:
            return _error(403, "the admin API is off; start the target with --admin-token-file")
        offered = request.headers.get("x-admin-token", "").encode("latin-1")
        if not hmac.compare_digest(offered, self._admin_token):
            return _error(401, "missing or wrong X-Admin-Token header")
        return None


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)
