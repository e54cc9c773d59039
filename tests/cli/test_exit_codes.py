"""Every failure of the real CLI (`main([...])`) has the exit code the README promises and a clear message.

0 success, 1 a gate or verification failed, 2 bad input or usage (naming the file or field),
3 a bug: one line pointing at a log file with the traceback, never exit 1. Outputs are written
all or nothing and never through a symlink; every input file has a size cap.
"""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from tests.loadtest.lines import k6_lines, write
from verification_pipeline.cli import main
from verification_pipeline.evidence.bundle_io import DEFAULT_LIMITS
from verification_pipeline.fileio import KEY_MAX_BYTES

CLI = [str(Path(sys.executable).parent / "verification-pipeline")]  # the installed entry point


def run(capsys, *args: str) -> tuple[int, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, (captured.err + captured.out).strip()


# --- the boundary ------------------------------------------------------------------------------


def test_a_bug_exits_3_with_one_line_and_the_traceback_in_a_log_without_secrets(
    capsys, monkeypatch, tmp_path
):
    # A stand-in for a bug: the key generator raises what no code path expects. Nothing else can
    # produce an unexpected exception on demand.
    secret = "s3cr3t-jwt-value-0123456789"
    monkeypatch.setenv("VP_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("VP_TARGET_JWT", secret)

    def broken(_out, **_kwargs):
        raise RuntimeError(f"unexpected state with token {secret}")

    monkeypatch.setattr("verification_pipeline.evidence.keys.generate_key_pair", broken)
    code, out = run(capsys, "keygen", "--out", str(tmp_path / "keys"))
    assert code == 3
    assert len(out.splitlines()) == 1
    assert out.startswith("internal error: RuntimeError: unexpected state with token ***; details in ")
    log = Path(out.rsplit("details in ", 1)[1])
    assert log.parent == tmp_path / "home" / "logs"
    text = log.read_text()
    assert "Traceback (most recent call last)" in text and "def broken" not in text
    assert "in broken" in text and secret not in text
    assert oct(log.stat().st_mode & 0o777) == "0o600"


def test_a_bug_logs_to_the_temp_dir_when_vp_home_is_not_writable(capsys, monkeypatch, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    monkeypatch.setenv("VP_HOME", str(blocker))
    monkeypatch.setattr(
        "verification_pipeline.evidence.keys.generate_key_pair", lambda *_a, **_k: 1 / 0
    )  # stand-in for a bug, as above
    code, out = run(capsys, "keygen", "--out", str(tmp_path / "keys"))
    assert code == 3 and "ZeroDivisionError" in out
    assert Path(out.rsplit("details in ", 1)[1]).is_file()


def test_a_usage_error_stays_exit_2(capsys):
    code, out = run(capsys, "k6", "gate", "--no-such-option")
    assert code == 2 and "No such option" in out


@pytest.mark.parametrize(
    "args",
    [
        ("verify", "", "--public-key", "k.pub"),
        ("keygen", "--out", ""),
        ("keygen", "--out="),
        ("ops", "render", "--out", "  "),
    ],
)
def test_an_empty_argument_is_refused_and_never_means_the_current_directory(capsys, args):
    code, out = run(capsys, *args)
    assert code == 2 and "is empty" in out


# --- keygen ------------------------------------------------------------------------------------


def test_keygen_writes_both_keys(capsys, tmp_path):
    code, out = run(capsys, "keygen", "--out", str(tmp_path / "keys"))
    assert code == 0, out
    assert oct((tmp_path / "keys" / "evidence-signing.key").stat().st_mode & 0o777) == "0o600"
    assert (tmp_path / "keys" / "evidence-signing.pub").read_bytes().startswith(b"-----BEGIN PUBLIC KEY")
    assert sorted(p.name for p in (tmp_path / "keys").iterdir()) == [
        "evidence-signing.key",
        "evidence-signing.pub",
    ]


def _keygen_targets(tmp: Path) -> dict[str, tuple[Path, str]]:
    a_file = tmp / "a-file"
    a_file.write_text("x")
    dangling = tmp / "dangling"
    dangling.mkdir()
    (dangling / "evidence-signing.pub").symlink_to(tmp / "elsewhere" / "stolen.pub")
    return {
        "a file": (a_file, "is not a directory"),
        "a path under a file": (a_file / "keys", "is not a directory"),
        "/dev/null": (Path("/dev/null"), "is not a directory"),
        "a dangling symlink in the public key's place": (
            dangling,
            "evidence-signing.pub: a key file (or a link)",
        ),
        "a folder nobody can create": (Path("/proc/no-such-dir/keys"), "cannot create the key folder"),
    }


@pytest.mark.parametrize(
    "case",
    [
        "a file",
        "a path under a file",
        "/dev/null",
        "a dangling symlink in the public key's place",
        "a folder nobody can create",
    ],
)
def test_keygen_refuses_an_unusable_out_with_exit_2_and_writes_no_key(capsys, tmp_path, case):
    out_dir, message = _keygen_targets(tmp_path)[case]
    code, out = run(capsys, "keygen", "--out", str(out_dir))
    assert code == 2 and message in out, out
    assert not (tmp_path / "elsewhere").exists()
    assert not list(tmp_path.rglob("evidence-signing.key"))


def test_a_key_pair_is_written_both_or_neither(tmp_path):
    from verification_pipeline.errors import InputError
    from verification_pipeline.fileio import atomic_write_many

    keys = tmp_path / "keys"
    keys.mkdir()
    # the second file's folder is missing: its temporary file cannot be made, so nothing is renamed
    with pytest.raises(InputError, match="cannot write into its folder"):
        atomic_write_many(
            {
                keys / "evidence-signing.key": b"private",
                tmp_path / "gone" / "evidence-signing.pub": b"public",
            },
            modes={keys / "evidence-signing.key": 0o600},
            exclusive=True,
        )
    assert list(keys.iterdir()) == []


# --- fanout run: outputs checked before any work ----------------------------------------------


def _fanout(*extra: str) -> list[str]:
    # nothing listens on port 9 here: if the probe ran, it would fail with "cannot connect"
    return ["fanout", "run", "--url", "http://127.0.0.1:9/graphql", "--token", "t", *extra]


@pytest.mark.parametrize(
    ("out", "message"),
    [
        ("{tmp}", "--out is a directory"),
        ("{tmp}/missing/fanout.json", "the folder of --out does not exist"),
        ("/dev/full", "--out is not a regular file"),
    ],
)
def test_fanout_refuses_a_bad_out_before_the_probe_runs(capsys, tmp_path, out, message):
    code, text = run(capsys, *_fanout("--out", out.format(tmp=tmp_path)))
    assert code == 2 and message in text and "connect" not in text, text


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--url", "http://127.0.0.1:99999/graphql"], "invalid port"),
        (["--url", "http://127.0.0.1:abc/graphql"], "invalid port"),
        (["--url", "ftp://127.0.0.1/graphql"], "is not an http(s) URL"),
        (["--url", "http://[::1/graphql"], "is not a URL: Invalid IPv6 URL"),
        (
            ["--subscribe-url", "http://127.0.0.1:70000"],
            "[subscribe_url]: 'http://127.0.0.1:70000' has an invalid port",
        ),
        (["--max-p95-ms", "nan"], "--max-p95-ms must be a finite number"),
        (["--max-p95-ms", "-1"], "--max-p95-ms must be a finite number >= 0"),
        (["--max-p95-ms", "inf"], "--max-p95-ms must be a finite number"),
        (["--grace-ms", "inf"], "'--grace-ms': must be at most 600000"),
        (["--rate", "nan"], "'--rate': must be at most 100000"),
        (["--subscribers", "99999999999999999999999"], "'--subscribers': must be at most 100000"),
    ],
)
def test_fanout_refuses_bad_urls_and_numbers_with_exit_2(capsys, tmp_path, args, message):
    base = ["fanout", "run", "--url", "http://127.0.0.1:9/graphql", "--token", "t"]
    code, text = run(capsys, *base, *args, "--out", str(tmp_path / "f.json"))
    assert code == 2 and message in text, text
    assert not (tmp_path / "f.json").exists()


# --- ops render ---------------------------------------------------------------------------------


def test_ops_render_writes_both_artifacts(capsys, tmp_path):
    code, out = run(capsys, "ops", "render", "--out", str(tmp_path / "ops"))
    assert code == 0, out
    assert sorted(p.name for p in (tmp_path / "ops").iterdir()) == [
        "grafana-v24-slos.json",
        "slo-burn-rate.yaml",
    ]


def test_ops_render_refuses_a_symlink_in_out_and_writes_nothing(capsys, tmp_path):
    out_dir = tmp_path / "ops"
    out_dir.mkdir()
    (out_dir / "grafana-v24-slos.json").symlink_to(tmp_path / "outside.json")
    code, out = run(capsys, "ops", "render", "--out", str(out_dir))
    assert code == 2 and "grafana-v24-slos.json: is a symbolic link" in out
    assert not (tmp_path / "outside.json").exists()
    assert [p.name for p in out_dir.iterdir()] == ["grafana-v24-slos.json"]  # the link, nothing else


def test_ops_render_refuses_out_that_is_a_symlink(capsys, tmp_path):
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real")
    code, out = run(capsys, "ops", "render", "--out", str(tmp_path / "link"))
    assert code == 2 and "is a symbolic link" in out
    assert list((tmp_path / "real").iterdir()) == []


def test_ops_render_keeps_the_old_files_when_a_new_one_cannot_be_written(capsys, tmp_path):
    out_dir = tmp_path / "ops"
    out_dir.mkdir()
    (out_dir / "slo-burn-rate.yaml").write_text("old rules")
    (out_dir / "grafana-v24-slos.json").mkdir()  # a directory in the second file's place
    code, out = run(capsys, "ops", "render", "--out", str(out_dir))
    assert code == 2 and "grafana-v24-slos.json: is in the way" in out
    assert (out_dir / "slo-burn-rate.yaml").read_text() == "old rules"
    assert not [p for p in out_dir.iterdir() if p.name.startswith(".")]  # no temporary file left


# --- lineage: the Dagster instance's home, config and storage ---------------------------------


def _lineage_cases(tmp: Path) -> dict[str, tuple[dict[str, str], str]]:
    a_file = tmp / "a-file"
    a_file.write_text("")
    broken_yaml = tmp / "broken"
    broken_yaml.mkdir()
    (broken_yaml / "dagster.yaml").write_text("storage: [\n")
    corrupt = tmp / "corrupt"
    (corrupt / "history").mkdir(parents=True)
    (corrupt / "dagster.yaml").write_text("storage:\n  sqlite:\n    base_dir: " + str(corrupt) + "\n")
    (corrupt / "history" / "runs.db").write_bytes(b"not a database at all" * 100)
    return {
        "DAGSTER_HOME missing": (
            {"DAGSTER_HOME": str(tmp / "missing")},
            "[DAGSTER_HOME]: " + str(tmp / "missing") + " is not an existing directory",
        ),
        "DAGSTER_HOME relative": (
            {"DAGSTER_HOME": "relative/home"},
            "[DAGSTER_HOME]: 'relative/home' is not an absolute path",
        ),
        "DAGSTER_HOME a file": ({"DAGSTER_HOME": str(a_file)}, "is not an existing directory"),
        "broken dagster.yaml": (
            {"DAGSTER_HOME": str(broken_yaml)},
            "dagster.yaml: the Dagster instance cannot be loaded",
        ),
        "corrupt SQLite": (
            {"DAGSTER_HOME": str(corrupt)},
            "storage cannot be read: (sqlite3.DatabaseError) file is not a database",
        ),
        "VP_HOME a file": (
            {"VP_HOME": str(a_file)},
            "[VP_HOME]: " + str(a_file / "dagster") + " cannot be used as a directory",
        ),
    }


@pytest.mark.parametrize(
    "case",
    [
        "DAGSTER_HOME missing",
        "DAGSTER_HOME relative",
        "DAGSTER_HOME a file",
        "broken dagster.yaml",
        "corrupt SQLite",
        "VP_HOME a file",
    ],
)
def test_lineage_with_a_broken_instance_exits_2_naming_it(capsys, monkeypatch, tmp_path, case):
    env, message = _lineage_cases(tmp_path)[case]
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    monkeypatch.delenv("VP_HOME", raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    code, out = run(capsys, "lineage", "v24.1.0-rc1")
    assert code == 2 and message in out, out


# --- k6: pipes, FIFOs, the same file twice, non-finite limits ----------------------------------


def test_k6_summarize_reads_a_pipe_as_a_file(tmp_path):
    run_file = write(tmp_path / "read.json", k6_lines(5))
    packed = tmp_path / "read.json.gz"
    packed.write_bytes(gzip.compress(run_file.read_bytes()))
    done = subprocess.run(
        ["bash", "-c", f'"$0" k6 summarize --json <(zcat "{packed}")', CLI[0]],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    direct = subprocess.run(
        [*CLI, "k6", "summarize", "--json", str(run_file)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert json.loads(done.stdout) == json.loads(direct.stdout)
    assert json.loads(done.stdout)["all"]["http_reqs"]["count"] == 5


def test_k6_refuses_the_same_file_given_twice(capsys, tmp_path):
    run_file = write(tmp_path / "read.json", k6_lines(5))
    (tmp_path / "alias.json").symlink_to(run_file)
    code, out = run(
        capsys, "k6", "gate", str(run_file), str(tmp_path / "alias.json"), "--p95", "100", "--error-rate", "1"
    )
    assert code == 2 and "the same k6 output file is given twice" in out


@pytest.mark.parametrize(
    ("p95", "message"),
    [
        ("inf", "--p95 must be a finite number"),
        ("nan", "--p95': must be at least 0"),
        ("-inf", "--p95': must be at least 0"),
    ],
)
def test_k6_gate_refuses_a_non_finite_limit(capsys, tmp_path, p95, message):
    run_file = write(tmp_path / "read.json", k6_lines(5))
    code, out = run(capsys, "k6", "gate", str(run_file), f"--p95={p95}", "--error-rate", "1")
    assert code == 2 and message in out, out


def test_a_fifo_without_a_writer_is_refused_after_a_wait_not_a_hang(tmp_path):
    from verification_pipeline.errors import InputError
    from verification_pipeline.fileio import read_capped

    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(InputError, match=r"no data arrived for 0.2 s \(a FIFO without a writer\?\)"):
        read_capped(fifo, limit=1000, wait_s=0.2)


def test_a_fifo_with_a_writer_is_read_whole(tmp_path):
    from verification_pipeline.fileio import read_capped

    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)

    def writer() -> None:
        with open(fifo, "wb") as handle:
            handle.write(b"x" * 300_000)

    thread = threading.Thread(target=writer)
    thread.start()
    assert read_capped(fifo, limit=1_000_000, wait_s=10) == b"x" * 300_000
    thread.join()


@pytest.mark.slow
def test_k6_summarize_of_a_fifo_without_a_writer_exits_2(tmp_path):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    done = subprocess.run(
        [*CLI, "k6", "summarize", str(fifo)], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 2 and "no data arrived" in done.stderr


# --- input size caps ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ["scan", "summarize", "/dev/zero"],
        ["ops", "render", "--out", "{tmp}/ops", "--slos", "/dev/zero"],
        ["target", "token", "--secret-file", "/dev/zero"],
        ["verify", "{tmp}", "--public-key", "/dev/zero"],
        ["k6", "summarize", "/dev/zero"],
    ],
)
def test_dev_zero_as_any_input_is_refused_not_read_forever(capsys, tmp_path, args):
    code, out = run(capsys, *(arg.format(tmp=tmp_path) for arg in args))
    assert code == 2 and "/dev/zero" in out and "is a device, not a file" in out, out
    assert not (tmp_path / "ops").exists() or not list((tmp_path / "ops").iterdir())


def test_a_regular_file_over_its_cap_is_refused_before_it_is_read(capsys, tmp_path):
    huge = tmp_path / "huge.pub"
    with open(huge, "wb") as handle:
        handle.truncate(KEY_MAX_BYTES + 1)  # sparse: no disk used
    code, out = run(capsys, "verify", str(tmp_path), "--public-key", str(huge))
    assert code == 2 and f"{huge}: the public key is larger than the 64 KiB this input may be" in out


def test_a_directory_as_an_input_file_exits_2(capsys, tmp_path):
    code, out = run(capsys, "scan", "summarize", str(tmp_path))
    assert code == 2 and "the report is a directory, not a file" in out


# --- demo, stack and target: refused before anything starts -----------------------------------


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["demo", "--duration", "abc"], "--duration 'abc' is not a k6 duration"),
        (["demo", "--output", "{tmp}/a-file"], "--output is not a directory"),
        (["demo", "--port-base", "99999"], "must be at most 55495"),
        (["stack", "up", "--port-base", "80"], "must be at least 1024"),
        (["stack", "up", "--no-target"], "[VP_HOME]: {tmp}/a-file cannot be used as a directory"),
        (["demo", "--output", "{tmp}/out"], "[VP_HOME]: {tmp}/a-file cannot be used as a directory"),
    ],
)
def test_demo_and_stack_refuse_bad_options_before_starting_anything(
    capsys, monkeypatch, tmp_path, args, message
):
    (tmp_path / "a-file").write_text("")
    monkeypatch.setenv("VP_HOME", str(tmp_path / ("a-file" if "VP_HOME" in message else "home")))
    code, out = run(capsys, *(arg.format(tmp=tmp_path) for arg in args))
    assert code == 2 and message.format(tmp=tmp_path) in " ".join(out.replace("│", " ").split()), out
    assert "started" not in out  # nothing was started


def test_target_serve_refuses_a_ready_file_that_is_a_directory_before_serving(capsys, tmp_path):
    secret = tmp_path / "jwt.secret"
    secret.write_text("k" * 40)
    code, out = run(
        capsys,
        "target",
        "serve",
        "--jwt-secret-file",
        str(secret),
        "--port",
        "0",
        "--ready-file",
        str(tmp_path),
    )
    assert code == 2 and "--ready-file is a directory" in out


@pytest.mark.parametrize("command", ["audit", "verify"])
def test_a_bundle_that_is_a_device_a_fifo_or_an_oversized_archive_is_refused(capsys, tmp_path, command):
    run(capsys, "keygen", "--out", str(tmp_path / "keys"))
    key = tmp_path / "keys" / "evidence-signing.pub"
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    huge = tmp_path / "bundle.tar.gz"
    with open(huge, "wb") as handle:
        handle.truncate(DEFAULT_LIMITS.max_total_bytes + 1)  # sparse: no disk used
    extra = ["--public-key", str(key)] if command == "verify" else []
    for bundle, message in (
        ("/dev/zero", "is not a bundle directory or archive file"),
        (str(fifo), "is not a bundle directory or archive file"),
        (
            str(huge),
            f"the bundle archive is larger than the {DEFAULT_LIMITS.max_total_bytes >> 30} GiB this input may be",
        ),
    ):
        code, out = run(capsys, command, bundle, *extra)
        assert code == 2 and message in out, out
