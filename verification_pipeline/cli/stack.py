"""`stack up | down | status` and `demo`: the embedded stack, and the main job on it."""

from __future__ import annotations

import os
import re
import shutil
import sys
import tempfile
import time
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from verification_pipeline.errors import UsageError
from verification_pipeline.formatting import fixed
from verification_pipeline.paths import ensure_dagster_home, usable_vp_home

if TYPE_CHECKING:
    import dagster as dg

    from verification_pipeline.execution.runner import StepDone, VerificationRun
    from verification_pipeline.records import BundleRecord
    from verification_pipeline.stack.control import Stack
    from verification_pipeline.storage.s3 import S3Settings

app = typer.Typer(
    help="The embedded stack: SeaweedFS (S3) and the reference target, loopback only.", no_args_is_help=True
)

PortBase = typer.Option(
    None,
    "--port-base",
    envvar="VP_STACK_PORT_BASE",
    min=1024,
    max=65535 - 10040,  # stack.control.MAX_PORT_BASE: base..base+40, and each gRPC port 10000 above
    help="First of the stack's ports (default 18300).",
)


@app.command()
def up(
    port_base: int | None = PortBase,
    target: bool = typer.Option(
        True,
        "--target/--no-target",
        help="Also start the reference target (--no-target: only the object store).",
    ),
) -> None:
    """Start the store (and the reference target); wait until they answer. Safe to repeat."""
    from verification_pipeline.stack.control import Stack

    usable_vp_home()
    status = Stack(port_base=port_base, with_target=target).up(progress=typer.echo)
    for line in status.lines():
        typer.echo(line)
    typer.echo(f"point a shell at it: set -a; . {Stack(port_base=port_base).layout.env_file}; set +a")


@app.command()
def down(port_base: int | None = PortBase) -> None:
    """Stop exactly the processes `up` started; the data stays."""
    from verification_pipeline.stack.control import Stack

    stopped = Stack(port_base=port_base).down()
    typer.echo(f"stopped: {', '.join(stopped)}" if stopped else "nothing of ours was running")


@app.command()
def status(port_base: int | None = PortBase) -> None:
    """Say what runs where (credentials masked)."""
    from verification_pipeline.paths import existing_vp_home
    from verification_pipeline.stack.control import Stack

    existing_vp_home()
    for line in Stack(port_base=port_base).status().lines():
        typer.echo(line)


# The demo's two RCs: the second with reads slowed by the target's fault injection, so its
# comparison with the first (slo/baseline.json) has a regression to find.
DEMO_RCS: tuple[tuple[str, dict | None], ...] = (
    ("v24.1.0-rc1", None),
    ("v24.1.0-rc2", {"read_latency_ms": "40"}),
)


# The overload phase shortened for the demo (slos.yaml declares 30 s + 8 s of recovery): 5 s past the
# limit and 4 s of recovery keep `make demo` under 150 s; the bundle's slo/overload.json says so.
DEMO_OVERLOAD_S = {"VP_OVERLOAD_DURATION_S": "5", "VP_OVERLOAD_RECOVERY_S": "4"}


def demo(
    rc: str | None = typer.Option(
        None,
        help="Verify only this release-candidate tag (default: v24.1.0-rc1, then v24.1.0-rc2 slowed +40 ms).",
    ),
    duration: str = typer.Option("20s", help="Load phase length per load test (k6 duration)."),
    port_base: int | None = PortBase,
    keep_stack: bool = typer.Option(False, help="Leave the stack running afterwards."),
    output: Path = typer.Option(
        Path("demo-output"), help="Where a local copy of the bundle and the public key go."
    ),
    baseline_design: str = typer.Option(
        "concurrent",
        help="How rc2 is compared with rc1: concurrent (a second target with rc1's settings, measured "
        "beside rc2 in the same run) or sequential (rc1's signed bundle).",
    ),
) -> None:
    """The main job: start the embedded stack, verify the RC end to end, print the verdicts and the bundle."""
    import dagster as dg

    from verification_pipeline.defs.load.assets import K6_DURATION
    from verification_pipeline.fileio import check_output_dir
    from verification_pipeline.release.tags import parse_rc
    from verification_pipeline.stack.control import Stack

    plan = ((parse_rc(rc).tag, None),) if rc else DEMO_RCS
    if baseline_design not in ("concurrent", "sequential"):
        raise UsageError(f"--baseline-design {baseline_design!r}", hint="concurrent or sequential")
    if not K6_DURATION.fullmatch(duration):
        raise UsageError(f"--duration {duration!r} is not a k6 duration", hint="e.g. 20s, 1m30s")
    usable_vp_home()
    check_output_dir(output, what="--output")
    started = time.monotonic()
    stack = Stack(port_base=port_base)
    was_running = bool(stack.status().running)
    stack.up(progress=typer.echo)
    runs = []
    try:
        os.environ.update(stack.env())  # the secrets' dg.EnvVars resolve from the process environment
        ensure_dagster_home()
        from verification_pipeline.definitions import build_definitions

        environ = {**os.environ, "VP_LOAD_DURATION": duration, **DEMO_OVERLOAD_S, **_set(DEMO_OVERLOAD_S)}
        defs = build_definitions(environ)
        with dg.DagsterInstance.get() as instance:
            previous: tuple[str, dict | None] | None = None
            for tag, faults in plan:
                if faults:
                    typer.echo(f"{tag}: the target now injects {faults} (its fault injection)")
                stack.set_target_faults(faults)
                run_defs = defs
                if previous is not None and baseline_design == "concurrent":
                    run_defs = _with_concurrent_baseline(stack, environ, tag, previous)
                try:
                    run = _verify_rc(run_defs, instance, tag, _seconds(duration))
                finally:
                    stack.stop_baseline_target()
                previous = (tag, faults)
                _print_outcome(run, tag, output, stack.settings(), time.monotonic() - started)
                runs.append(run)
        stack.set_target_faults(None)
        for run in runs:
            _print_comparison(run)
    finally:
        if not was_running and not keep_stack:
            stack.down()
            typer.echo("stack stopped (it was not running before the demo)")
    if any(run.values.release_decision is None for run in runs):
        raise typer.Exit(1)


def _with_concurrent_baseline(
    stack: Stack, environ: dict[str, str], tag: str, previous: tuple[str, dict | None]
) -> dg.Definitions:
    """The definitions for `tag` with the baseline measured beside it: a second target with the
    previous RC's settings (`previous`: its tag and faults)."""
    from verification_pipeline.definitions import build_definitions

    url = stack.start_baseline_target(previous[1])
    typer.echo(f"{tag}: concurrent baseline {previous[0]}'s settings on {url}")
    return build_definitions({**environ, "VP_BASELINE_GRAPHQL_URL": url, "VP_BASELINE_RC": previous[0]})


def _verify_rc(
    defs: dg.Definitions,
    instance: dg.DagsterInstance,
    rc: str,
    load_s: float,
    run_config: dict | None = None,
    what: str = "demo",
) -> VerificationRun:
    """One RC's run, as the screen shows it: a line per finished step, a live line during the load.

    Dagster's own per-event lines go to a log file (its path is printed first), not the screen.
    """

    from verification_pipeline.execution.runner import RunWatcher, verify_in_process
    from verification_pipeline.paths import vp_home

    run_id = str(uuid.uuid4())  # a Dagster run id is a UUID4 string
    logs = vp_home() / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    log_path = logs / f"{what}-{rc}-{run_id[:8]}.log"
    typer.echo(f"verifying {rc}: Dagster run {run_id}; its event log: {log_path}")
    screen = _DemoScreen(load_s)
    quiet = {"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}}
    with (
        log_path.open("w") as log,
        RunWatcher(instance, run_id, log, on_step=screen.step_done, on_tick=screen.tick),
    ):
        run = verify_in_process(
            defs,
            rc,
            instance,
            run_config={**(run_config or {}), **quiet},
            raise_on_error=False,
            run_id=run_id,
        )
    screen.clear()
    return run


class _DemoScreen:
    """One line per finished step, and while the load runs one live line, redrawn in place on a terminal."""

    LOAD_STEP = "run_load_segment"
    PLAIN_EVERY_S = 5.0  # not a terminal (CI, a pipe): the live line as a plain line this often

    def __init__(self, load_s: float) -> None:
        from verification_pipeline.loadtest.progress import LoadTally

        self.load_s = load_s
        self.tally = LoadTally()
        self.live = sys.stdout.isatty()
        self.shown = False
        self.last_plain = 0.0

    def step_done(self, done: StepDone) -> None:
        self.clear()
        mark = "ok  " if done.success else "FAIL"
        name = done.step if len(done.step) <= 40 else done.step[:37] + "..."
        line = f"  {mark} {name:<40} {done.seconds:6.1f}s  {done.figure}"
        typer.secho(line[:160], fg=None if done.success else typer.colors.RED)

    def tick(self, running: dict[str, float]) -> None:
        from verification_pipeline.loadtest.runner import running_outputs

        loading = [started for step, started in running.items() if self.LOAD_STEP in step]
        if not loading:
            return
        self.tally.update(running_outputs())
        elapsed = time.time() - min(loading)
        line = (
            f"  load: {elapsed:5.1f}s of {self.load_s:g}s, {self.tally.requests:,} requests, "
            f"{self.tally.failed:,} errors so far"
        )
        if self.live:
            sys.stdout.write("\r\x1b[2K" + line)
            sys.stdout.flush()
            self.shown = True
        elif time.monotonic() - self.last_plain >= self.PLAIN_EVERY_S:
            self.last_plain = time.monotonic()
            typer.echo(line)

    def clear(self) -> None:
        if self.shown:
            sys.stdout.write("\r\x1b[2K")
            sys.stdout.flush()
            self.shown = False


def _seconds(duration: str) -> float:
    """A k6 duration (`20s`, `1m30s`, `500ms`) in seconds."""
    units = {"ms": 0.001, "s": 1, "m": 60, "h": 3600}
    return sum(float(n) * units[u] for n, u in re.findall(r"(\d+(?:\.\d+)?)(ms|s|m|h)", duration))


def _print_comparison(run: VerificationRun) -> None:
    """slo/baseline.json as a table: every shift with its interval, p-value, effect size and verdict."""
    from verification_pipeline.cli.output import print_table

    record = run.values.baseline_comparison
    if record is None:
        return
    comparison = record.as_json()  # the printing edge: each row's figures ride along as JSON
    baseline = (comparison["baseline"] or {}).get("rc")
    typer.echo("")
    typer.secho(
        f"{comparison['rc']} against {baseline or 'no baseline'}"
        f"{' (' + comparison['design'] + ' design)' if comparison.get('design') else ''}: {comparison['status']}, "
        f"verdict {comparison['verdict']} ({comparison['reason']})",
        bold=True,
    )
    if not comparison["slos"]:
        return
    level = f"{comparison['confidence'] * 100:g}% CI"
    rows = []
    for r in comparison["slos"]:
        figure = r.get("shift_ms") or r.get("rate_diff")
        unit = "ms" if r["kind"] == "latency" else "pp"
        ratio = r.get("p95_ratio")
        rows.append(
            (
                r["slo"],
                r["classification"] or "n/a",
                "n/a" if not figure else f"{figure['estimate']:+.3f} {unit}",
                "n/a" if not figure else f"[{fixed(figure['lower'])}, {fixed(figure['upper'])}]",
                fixed(ratio["estimate"]) if ratio else "n/a",
                "n/a" if r["p_value"] is None else format(r["p_value"], ".2g"),
                "n/a" if r["effect_size"] is None else format(r["effect_size"], "+.2f"),
                r["verdict"],
            )
        )
    print_table(("SLO", "change", "shift / diff", level, "p95 ratio", "p-value", "effect", "verdict"), rows)


def _set(names: dict[str, str]) -> dict[str, str]:
    """The variables among `names` set in this environment (they win over the demo's defaults)."""
    return {name: os.environ[name] for name in names if os.environ.get(name)}


def _print_overload(document: dict) -> None:
    """slo/overload.json in two lines: the figures, then each gate's verdict."""
    figures = document.get("figures") or {}
    if document.get("measured"):
        recovery = figures.get("recovery_s")
        typer.echo(
            f"overload: tenant A offered {figures.get('offered_rps', 0):.1f}/s against its limit of "
            f"{figures.get('limit_rps', 0):g}/s; admitted {figures.get('admitted_rps', 0):.1f}/s, refused "
            f"{figures.get('refused_rps', 0):.1f}/s; neighbour p95 "
            f"{figures.get('neighbour_p95_ms') or 0:.1f} ms; recovery "
            + ("not seen" if recovery is None else f"{recovery:g} s")
        )
    typer.echo(
        "overload gates: " + ", ".join(f"{g['name']} {g['verdict']}" for g in document.get("gates", []))
    )


def _print_outcome(
    run: VerificationRun,
    rc: str,
    output: Path | None,
    settings: S3Settings,
    elapsed: float,
    what: str = "demo",
) -> None:
    """The RC's tables, decision and bundle; `output` None: no local copy, the bundle is verified from the store."""
    typer.echo("")
    _print_verdicts(run, rc)
    typer.echo(
        f"Dagster run {run.run_id} ({'succeeded' if run.success else 'failed'}); {what} took {elapsed:.1f}s; "
        f"instance at {os.environ['DAGSTER_HOME']} (browse it with `make dev`)"
    )
    overhead = run.load_to_bundle_s()
    if overhead is not None:
        typer.echo(f"end of the measurements (load, fan-out) -> verified bundle in S3: {overhead:.1f}s")
    bundle = run.values.evidence_bundle
    if not bundle:
        typer.secho("no evidence bundle was produced: see the run's errors above", fg=typer.colors.RED)
        return
    _print_bundle(bundle, rc, output, settings)


def _print_verdicts(run: VerificationRun, rc: str) -> None:
    """The SLO table, the scan and overload gates, and the release decision, as far as the run got."""
    from verification_pipeline.verdict import Verdict

    slo = run.values.slo_metrics
    if slo:
        _print_slo_table(slo.as_json())
    scans = run.values.scan_summary
    if scans:
        typer.echo("scan gates: " + ", ".join(f"{g.name} {g.verdict}" for g in scans.gates))
    overload = run.values.overload_phase
    if overload:
        _print_overload(overload)
    decision = run.values.release_decision
    if decision:
        typer.secho(
            f"release decision for {rc}: {decision.verdict}"
            + (f" ({'; '.join(decision.reasons)})" if decision.reasons else ""),
            fg=typer.colors.GREEN if decision.verdict is Verdict.PASS else typer.colors.RED,
            bold=True,
        )


def _print_bundle(bundle: BundleRecord, rc: str, output: Path | None, settings: S3Settings) -> None:
    """Where the bundle is, and that it verifies: from the store (`output` None) or as a local copy
    in `output`, with the `verify` command to check it again."""
    from verification_pipeline.evidence.keys import load_public_key_pem
    from verification_pipeline.evidence.verify import verify_files, verify_path
    from verification_pipeline.storage.bundles import read_bundle_uri

    files = read_bundle_uri(bundle.uri, settings)
    typer.echo(f"bundle:     {bundle.uri}  ({len(files)} files, verdict {bundle.verdict})")
    typer.echo(f"archive:    {bundle.archive_uri}  sha256 {bundle.archive_sha256}")
    if bundle.dev_key:
        typer.secho(
            "signed with the embedded stack's DEV key: fine for a demo, not release evidence",
            fg=typer.colors.YELLOW,
        )
    if output is None:
        public = load_public_key_pem(bundle.public_key_pem.encode(), source="the run's signing key")
        verified = verify_files(files, public, expected_rc=rc)
        typer.echo(
            f"            -> verified from the store: {verified.files} files, verdict {verified.verdict}"
        )
        return
    local = _local_copy(files, bundle.public_key_pem, output, rc)
    public_key = local / "evidence-signing.pub"
    report = verify_path(
        local / "bundle", load_public_key_pem(public_key.read_bytes(), source=str(public_key)), expected_rc=rc
    )
    typer.echo(f"local copy: {local / 'bundle'} (public key {public_key})")
    command = f"uv run verification-pipeline verify {local / 'bundle'} --public-key {public_key} --rc {rc}"
    typer.echo(f"verify it:  {command}")
    typer.echo(f"            -> {report.files} files verified, verdict {report.verdict}")


def _print_slo_table(slo: dict[str, Any]) -> None:
    from verification_pipeline.cli.output import print_table
    from verification_pipeline.slo.metrics import dependence_summary

    confidence = slo["slos"][0].get("confidence") if slo["slos"] else None
    level = f"{confidence * 100:g}% bounds" if confidence else "bounds"
    rows = [
        (
            r["name"],
            r["n"],
            fixed(r["value"]),
            f"<= {r['threshold']:g} {r['unit']}",
            "n/a"
            if r["ci_low"] is None and r["ci_high"] is None
            else f"[{fixed(r['ci_low'])}, {fixed(r['ci_high'])}]",
            r["verdict"],
            dependence_summary(r),
        )
        for r in slo["slos"]
    ]
    print_table(("SLO", "n", "value", "threshold", level, "verdict", "dependence"), rows)
    fanout = slo.get("fanout") or {}
    if fanout:
        typer.echo(
            f"fan-out delivery: {fanout.get('delivered')} delivered, {fanout.get('lost')} lost, "
            f"{fanout.get('duplicates')} duplicates (ratio {fanout.get('delivery_ratio')})"
        )
    if slo.get("measurement_health"):
        from verification_pipeline.slo.document import health_line

        typer.echo(health_line(slo["measurement_health"]).replace("**", ""))


def _local_copy(files: Mapping[str, bytes], public_key_pem: str, output: Path, rc: str) -> Path:
    """`output/<rc>/`: the bundle and its public key. The copy is made beside its place and swapped in
    whole: never half a bundle, never via a link."""
    local = output / rc
    output.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=output, prefix=f".{rc}."))
    for name, data in files.items():
        target = staging / "bundle" / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    (staging / "evidence-signing.pub").write_text(public_key_pem)
    if local.is_symlink():
        local.unlink()
    elif local.exists():
        shutil.rmtree(local)
    staging.replace(local)
    return local
