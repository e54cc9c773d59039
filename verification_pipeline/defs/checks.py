"""An asset check from a gate's verdict: passed only on PASS, an ERROR when FAIL, a WARN otherwise."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import dagster as dg

from verification_pipeline.defs.evidence.files import bundle_files_metadata
from verification_pipeline.defs.storage.resources import S3Resource
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


def gate_document_outputs(
    context: dg.AssetExecutionContext,
    s3: S3Resource,
    check_name: str,
    document: dict[str, Any],
    files: Mapping[str, bytes],
    metadata: Mapping[str, Any],
) -> Iterator[dg.Output[dict[str, Any]] | dg.AssetCheckResult]:
    """A one-gate asset's outputs: its document (metadata: the verdict, `metadata`, its bundle files)
    and the check of the document's verdict and reason."""
    verdict = Verdict(document["verdict"])
    yield dg.Output(
        document,
        metadata={"verdict": verdict.value, **metadata, **bundle_files_metadata(context, s3, files)},
    )
    yield verdict_check(check_name, verdict, document["reason"])
