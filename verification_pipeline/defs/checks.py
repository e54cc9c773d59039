"""An asset check from a gate's verdict: passed only on PASS, an ERROR when FAIL, a WARN otherwise."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import dagster as dg

from verification_pipeline.verdict import Verdict


def verdict_check(
    check_name: str, verdict: Verdict, description: str, metadata: Mapping[str, Any] | None = None
) -> dg.AssetCheckResult:
    """The check a gate shows in the UI; its metadata carries the verdict (and `metadata`)."""
    return dg.AssetCheckResult(
        check_name=check_name,
        passed=verdict is Verdict.PASS,
        severity=dg.AssetCheckSeverity.ERROR if verdict is Verdict.FAIL else dg.AssetCheckSeverity.WARN,
        description=description,
        metadata={"verdict": verdict.value, **(metadata or {})},
    )
