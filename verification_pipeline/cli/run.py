"""`run --rc TAG`: verify one RC against the service and store the environment names, in this process.

For CI and for a team without a Dagster deployment: the same asset graph as the UI and the
demo, executed in-process (`execute_in_process`) on the instance under DAGSTER_HOME (else the
one under VP_HOME), printed the way `demo` prints it. Every setting comes from the environment
(the README's "Pointing the pipeline at a real service" and "a real S3 endpoint"); each is
checked before anything starts, so a missing or malformed one exits 2 naming it instead of
failing a step minutes into the load.

Exit codes: 0 the signed decision is PASS; 1 it is anything else (a gate failed, a figure is
inconclusive, evidence is missing); 2 bad configuration, or a step refused its input or could
not reach the service or the store (the step's own message); 3 a step raised something
unexpected (a bug): one line, the step's traceback in the log file it names.
"""

from __future__ import annotations

import os
import re
import time
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import typer

from verification_pipeline import errors
from verification_pipeline.errors import ConfigError, GateFailed, PipelineError

if TYPE_CHECKING:
    import dagster as dg


def run(
    rc: str = typer.Option(..., "--rc", help="The release-candidate tag to verify, e.g. v24.1.0-rc1."),
    output: Path | None = typer.Option(
        None,
        help="Also write a local copy of the bundle and its public key under OUTPUT, one folder per RC tag.",
    ),
    run_config: Path | None = typer.Option(
        None,
        "--run-config",
        help="YAML run config for the job (load VUs and executor, fan-out subscribers, baseline_rc).",
    ),
) -> None:
    """Verify an RC against the service and S3 store named by the environment; exit 0 only on PASS."""
    import dagster as dg

    from verification_pipeline.cli.stack import _print_comparison, _print_outcome, _seconds, _verify_rc
    from verification_pipeline.defs.load.assets import LoadResource
    from verification_pipeline.execution.environment import check_run_environment
    from verification_pipeline.fileio import check_output_dir
    from verification_pipeline.paths import ensure_dagster_home, usable_vp_home
    from verification_pipeline.release.tags import parse_rc
    from verification_pipeline.storage.s3 import S3Settings
    from verification_pipeline.verdict import Verdict

    tag = parse_rc(rc).tag
    if output is not None:
        check_output_dir(output, what="--output")
    config = _read_run_config(run_config) if run_config else {}
    settings = check_run_environment(os.environ)
    usable_vp_home()
    ensure_dagster_home()
    from verification_pipeline.definitions import build_definitions

    started = time.monotonic()
    defs = build_definitions(os.environ)
    typer.echo(f"target:  {settings.target_url} (credentials: {settings.credentials})")
    typer.echo(f"store:   {settings.store}")
    typer.echo(f"signing: {settings.signing}")
    duration = os.environ.get("VP_LOAD_DURATION") or LoadResource().duration
    with dg.DagsterInstance.get() as instance:
        result = _verify_rc(defs, instance, tag, _seconds(duration), run_config=config, what="run")
        _print_outcome(result, tag, output, S3Settings.from_env(), time.monotonic() - started, what="run")
        _print_comparison(result)
        decision = result.values.release_decision
        if decision is None:
            _raise_step_failure(instance, result.run_id)
    if decision.verdict is not Verdict.PASS:
        raise GateFailed(
            f"{tag}: the signed release decision is {decision.verdict}",
            hint="; ".join(decision.reasons) or None,
        )


def _read_run_config(path: Path) -> dict:
    from verification_pipeline.config_files import load_yaml
    from verification_pipeline.fileio import CONFIG_MAX_BYTES, read_capped

    document = load_yaml(
        read_capped(path, limit=CONFIG_MAX_BYTES, what="--run-config", error=ConfigError), source=str(path)
    )
    if document is None:
        return {}
    if not isinstance(document, dict):
        raise ConfigError(f"holds a {type(document).__name__}, not a mapping of run config", source=str(path))
    return document


def _raise_step_failure(instance: dg.DagsterInstance, run_id: str) -> NoReturn:
    """The run stopped before a decision: the first failed step's error, with our exit code for it.

    One of the pipeline's own errors (bad input, an unreachable service or store) keeps its
    class, so its exit code and message are what the step said; anything else is a bug (3),
    its traceback (secrets masked) in the crash log.
    """
    import dagster as dg

    records = instance.get_records_for_run(run_id, of_type=dg.DagsterEventType.STEP_FAILURE).records
    if not records:
        raise RuntimeError(f"run {run_id} ended without a release decision and without a failed step")
    entry = records[0].event_log_entry
    event = entry.dagster_event
    error = event.step_failure_data.error if event is not None else None
    while error is not None and error.cause is not None:  # Dagster's wrapper -> the step's own error
        error = error.cause
    if error is None:
        raise RuntimeError(f"step {entry.step_key} failed without an error record (run {run_id})")
    first = (error.message.strip().splitlines() or [error.cls_name or "error"])[0]
    message = re.sub(rf"^(?:\w+\.)*{re.escape(error.cls_name or '')}: ", "", first)  # a.b.TargetError: x -> x
    ours = getattr(errors, error.cls_name or "", None)
    if isinstance(ours, type) and issubclass(ours, PipelineError):
        raise ours(f"step {entry.step_key}: {message}")
    raise RuntimeError(
        f"step {entry.step_key} raised {error.cls_name}: {message}\n\nthe step's traceback:\n{error.to_string()}"
    )
