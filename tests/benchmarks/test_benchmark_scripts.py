"""The benchmark scripts behind benchmarks/RESULTS.md still run and print their tables.

Tiny sizes only: the figures themselves are measured by hand on a quiet machine (RESULTS.md), never
asserted in a test on these shared machines. What is asserted is what a person re-running a
benchmark relies on: it finishes, compares what it says it compares, and counts what it reads.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def run(script: str, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / script), *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def test_ingestion_benchmark_reads_the_whole_generated_file_with_every_reader():
    out = run("ingest_k6.py", "--size-mb", "5", "--repeat", "2")
    generated = int(re.search(r"generated \d+ MB, (\d+) requests", out).group(1))

    def row(reader: str) -> str:
        return next(line for line in out.splitlines() if line.startswith(f"| {reader} |"))

    # every request, plus one row per dropped iteration the generator wrote
    assert int(re.search(r"(\d+) rows", row("verification_pipeline ingest")).group(1)) >= generated
    lines = int(re.search(r"(\d+) lines", row("pl.scan_ndjson(...).collect()")).group(1))
    points = int(re.search(r"(\d+) point lines", row('grep -F \'"type":"Point"\' | wc -l')).group(1))
    assert 0 < points < lines  # the same file: all its lines, and its Point lines among them
    assert len(re.findall(r"^round \d+:", out, re.MULTILINE)) == 2
    assert "ours vs scan_ndjson:" in out and "goals are set for a file of at least 600 MB" in out


def test_parse_stage_benchmark_gives_our_rows_with_every_compiled_reader_beside_the_floor():
    out = run("ingest_k6_parsers.py", "--size-mb", "3", "--repeat", "1")
    generated = int(re.search(r"generated \d+ MB, (\d+) requests", out).group(1))
    rows = re.findall(
        r"^\| (.+?) \| [0-9.]+ \| [0-9.]+ \(.*\| (\d+) rows, hash (-?\d+) \|$", out, re.MULTILINE
    )
    assert len(rows) == 6, out  # ours (the polars path), the compiled scanner and the four alternatives
    assert {(count, digest) for _, count, digest in rows} == {rows[0][1:]}  # the same rows, hashed
    assert int(rows[0][1]) >= generated
    floor = re.search(r"^\| LC_ALL=C grep -cF .* \| (\d+) request lines \|$", out, re.MULTILINE)
    assert floor is not None and int(floor.group(1)) >= generated


def test_fanout_benchmark_compares_like_for_like_and_accounts_for_every_pair():
    out = run("fanout_probe.py", "--runs", "20", "--rounds", "1", "--subscribers", "20", "--events", "5")
    assert "median p95 (seed's method) within 1 ms of the Node client's:" in out
    # the probe counted RUNS latencies the script's way, publishes and echoes both
    counted = re.search(r"counted (\d+) publishes and (\d+) echoes", out)
    assert int(counted.group(1)) + int(counted.group(2)) == 20 and int(counted.group(2)) > 0
    # the probe's own table: every (subscriber, event) pair delivered, late or lost
    row = re.search(r"^\| 20 \| \d+ \| (\d+) \| (\d+) \| (\d+) \| (\d+) \|", out, re.MULTILINE)
    assert row is not None, out
    pairs, delivered, late, lost = (int(value) for value in row.groups())
    assert pairs == 20 * 5 and delivered + late + lost == pairs


def test_interval_coverage_benchmark_prints_every_cell_beside_the_exact_interval():
    out = run("interval_coverage.py", "--reps", "20", "--sizes", "1000")
    quantile_rows = re.findall(r"^\| (lognormal|bimodal) \| [0-9.]+ \| 1,000 \| ", out, re.MULTILINE)
    rate_rows = re.findall(r"^\| (independent|bursts) \| [0-9.]+ % \| 1,000 \| ", out, re.MULTILINE)
    assert len(quantile_rows) == 6 and len(rate_rows) == 6
    # At rho 0 nothing is inflated: the width is the exact interval's.
    assert re.search(r"^\| lognormal \| 0 \| 1,000 \| .* \| 1\.000 \| 1,000 \|$", out, re.MULTILINE)


def test_baseline_comparison_benchmark_prints_coverage_and_cost_of_every_contender():
    out = run(
        "baseline_comparison.py", "--replications", "5", "--n", "200", "--resamples", "20", "--sizes", "1000"
    )
    for contender in (
        "ours: HL shift, MW on n_eff",
        "MW assuming independence",
        "block bootstrap p95 diff",
        "ours: p95 ratio (x1.2 scale change)",
    ):
        coverage = float(re.search(rf"\| {re.escape(contender)} \| ([0-9.]+) \|", out).group(1))
        assert 0.0 <= coverage <= 1.0
    assert "5 replications of n = 200 per side, AR(1) rho 0.3" in out
    assert re.search(r"^\| 1,000 \| [0-9.]+ \| [0-9.]+ \| [0-9.]+x \|$", out, re.MULTILINE)


def test_report_benchmark_times_the_report_and_the_ui_charts_beside_the_slo_maths():
    out = run(
        "report_render.py",
        "--reads",
        "500",
        "--writes",
        "300",
        "--subscribers",
        "5",
        "--events",
        "20",
        "--repeat",
        "1",
    )
    assert "500 reads, 300 writes, 100 deliveries" in out
    for step in ("metrics_document", "render_report", "slo_charts_markdown"):
        assert re.search(rf"^\| {step} .*\| [\d.]+ \|", out, re.MULTILINE), step


def test_bound_cost_benchmark_times_the_bounds_beside_summarize_on_the_same_files(tmp_path):
    """Both runs (plain and with slow stretches) of each size, before and after side by side."""
    before = tmp_path / "before"
    before.mkdir()
    archive = subprocess.run(
        ["git", "archive", "HEAD", "verification_pipeline"], cwd=REPO, capture_output=True, check=True
    )
    subprocess.run(["tar", "-x", "-C", str(before)], input=archive.stdout, check=True)
    out = run("bound_cost.py", "--sizes", "2000", "--rounds", "1", "--before", str(before))
    for kind in ("plain", "stretches"):
        # wall seconds, with CPU seconds in brackets where the script reports both
        assert re.search(rf"^\| 2,000 \| {kind} \|( [0-9.]+( \([0-9.]+\))? \|){{7}}$", out, re.MULTILINE), out


def test_burst_coverage_benchmark_prints_before_and_now_for_the_cells_asked():
    out = run("burst_coverage.py", "--reps", "20", "--cells", "0,14")
    rows = [line for line in out.splitlines() if re.match(r"^\| (independent|pareto)", line)]
    assert [row.split(" | ")[0] for row in rows] == ["| independent", "| pareto 1.5"], out
    assert all(len(row.split("|")) == 14 for row in rows)  # 12 columns: before and now side by side


def test_policy_benchmark_compares_the_same_counts_every_way():
    out = run("policy_test.py", "--documents", "20")
    assert "20 documents" in out
    rows = [
        line
        for line in out.splitlines()
        if line.startswith("| ") and "wall s" not in line and "---" not in line
    ]
    assert len(rows) == 3
    counts = {tuple(row.split("|")[3:5]) for row in rows}
    assert len(counts) == 1 and int(next(iter(counts))[0]) > 0  # same failures and warnings, some found
    assert "same counts every way: True" in out


def test_overload_benchmark_prints_the_measured_rates_beside_the_declared_limit():
    out = run("overload_target.py", "--duration", "3", "--recovery", "4")
    offered = re.search(r"^\| tenant A offered per s \| ([\d.]+) \| 200 \|$", out, re.MULTILINE)
    admitted = re.search(r"^\| tenant A admitted per s \| ([\d.]+) \| limit 100 \|$", out, re.MULTILINE)
    assert offered and admitted, out
    assert float(admitted.group(1)) < float(offered.group(1))  # the limiter shed the rest
    assert "load average before:" in out and re.search(r"^overload:recovery: \w+$", out, re.MULTILINE)


def test_singles_tradeoff_benchmark_puts_the_ceiling_beside_method_2_and_prices_the_priors():
    """The trade-off of issue 26 (a): a rule within 5 % of the exact bound on independent
    failures can give an all-singles run at most 1.05 x CP(K), which covers no Pareto 1.5 run at
    4 expected bursts that method 2 misses; the priors are priced on independent failures."""
    out = run("singles_tradeoff.py", "--reps", "10")
    rows = [line.split(" | ") for line in out.splitlines() if re.match(r"^\| (pareto|geometric)", line)]
    assert [row[0] for row in rows] == [
        "| pareto 1.5",
        "| pareto 1.5",
        "| pareto 2.5",
        "| pareto 1.1",
        "| geometric 20",
    ]
    assert all(len(row) == 12 for row in rows)
    assert rows[0][6] == rows[0][7]  # method 2 and the ceiling cover the same runs
    assert "coverage at most 0.865" in out
    independent = [line for line in out.splitlines() if re.match(r"^\| (1|2|4|8|20|50) \|", line)]
    assert len(independent) == 6 and all(line.split(" | ")[1].startswith("1.05 /") for line in independent)
