"""`verification-pipeline --help` wall time: the root and every sub-command, beside `python -c pass`.

Each command runs in a fresh interpreter (as a shell or CI step runs it); the figure is the median
of `--rounds` runs, the commands taking turns so a busy moment hits all of them alike. `--repo`
measures another checkout's code (e.g. a `git worktree` of an older commit) with this
environment's interpreter, for a before/after table in one run.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
COMMANDS = [
    [],
    ["stack"],
    ["k6"],
    ["k6", "summarize"],
    ["k6", "gate"],
    ["scan", "summarize"],
    ["policy", "test"],
    ["fanout", "run"],
    ["ops", "render"],
    ["target", "serve"],
    ["target", "token"],
    ["keygen"],
    ["verify"],
    ["audit"],
    ["lineage"],
    ["promote"],
    ["demo"],
]


def wall(argv: list[str], cwd: Path) -> float:
    started = time.perf_counter()
    subprocess.run(argv, cwd=cwd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


def help_argv(command: list[str], repo: Path) -> list[str]:
    # The checkout's code first on sys.path, so another worktree's CLI is what runs.
    code = (
        f"import sys; sys.path.insert(0, {str(repo)!r}); sys.argv = ['verification-pipeline', *sys.argv[1:]];"
        "from verification_pipeline.cli import main; sys.exit(main())"
    )
    return [sys.executable, "-c", code, *command, "--help"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--repo", type=Path, action="append", help="checkout to measure (repeatable)")
    args = parser.parse_args()
    repos = args.repo or [REPO]
    floor: list[float] = []
    times: dict[tuple[int, str], list[float]] = {}
    for _ in range(args.rounds):
        floor.append(wall([sys.executable, "-c", "pass"], REPO))
        for index, repo in enumerate(repos):
            for command in COMMANDS:
                times.setdefault((index, " ".join(command)), []).append(wall(help_argv(command, repo), repo))
    labels = [str(repo) for repo in repos]
    print(f"python -c pass: {statistics.median(floor) * 1000:.0f} ms (median of {args.rounds})")
    print()
    print("| command | " + " | ".join(f"{label} ms" for label in labels) + " |")
    print("| --- | " + " | ".join("---:" for _ in labels) + " |")
    print(
        "| `python -c pass` | " + " | ".join(f"{statistics.median(floor) * 1000:.0f}" for _ in labels) + " |"
    )
    for command in COMMANDS:
        name = " ".join(command)
        cells = [f"{statistics.median(times[(index, name)]) * 1000:.0f}" for index in range(len(repos))]
        print(f"| `verification-pipeline {name + ' ' if name else ''}--help` | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
