"""A careless or hostile user at the real command line, over every command: each mistake is exit 2.

Every case runs the installed entry point in its own process, as a user would, and must end
with exit 2 (never 3, never 1, never a traceback), one `error: ...` line first on stderr that
names the file, field, option or variable at fault, no Python repr or library wording, no
100 KB line, and no internal-error log. Cases marked unprivileged run without root's power
over file permissions (see userproc.py), so a mode-000 file is really unreadable.
"""

from __future__ import annotations

import os
import shutil
import stat
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.cli.userproc import leaks, run_cli
from tests.loadtest.lines import k6_lines, write
from verification_pipeline.evidence.bundle import EvidenceBundle
from verification_pipeline.evidence.bundle_io import write_archive, write_directory
from verification_pipeline.evidence.keys import KeyPairFiles
from verification_pipeline.slo.spec import DEFAULT_SLOS_PATH

LONG = "a" * 100_000  # longer than any file name or path the kernel takes


@dataclass
class World:
    """Files the cases point at, made once per module."""

    root: Path
    public_key: Path
    bundle_dir: Path
    archive: Path
    k6_file: Path

    def path(self, name: str) -> Path:
        return self.root / name

    def closed(self, path: Path) -> Path:
        """`path` with no permission for anyone (what an unprivileged run cannot open)."""
        path.chmod(0)
        return path

    def copy_bundle(self, name: str) -> Path:
        return Path(shutil.copytree(self.bundle_dir, self.root / name))

    def slos(self, name: str, old: str, new: str) -> Path:
        text = DEFAULT_SLOS_PATH.read_text()
        assert old in text
        return write_text(self.root / name, text.replace(old, new, 1))


def write_text(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


@dataclass
class Case:
    args: Callable[[World], list[str | bytes]]
    names: str  # what the message must name
    env: Callable[[World], dict[str, str]] = field(default=lambda w: {})
    unprivileged: bool = False


def _zip_named_tar_gz(w: World) -> Path:
    path = w.path("bundle.tar.gz")
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("evidence/v24.1/manifest.json", "{}")
    return path


def _above_bundle(w: World) -> Path:
    above = w.path("demo-output-rc")
    above.mkdir()
    write_directory_copy = w.copy_bundle("demo-output-rc/bundle")
    (above / "evidence-signing.pub").write_bytes(w.public_key.read_bytes())
    assert write_directory_copy.is_dir()
    return above


def _binary_dagster_home(w: World) -> Path:
    home = w.path("dagster-home")
    home.mkdir()
    (home / "dagster.yaml").write_bytes(bytes(range(128, 256)))
    return home


def _key_folder(w: World) -> Path:
    out = w.path("keys-with-folder")
    (out / "evidence-signing.key").mkdir(parents=True)
    return out


def _unwritable_dir(w: World) -> Path:
    folder = w.path("read-only")
    folder.mkdir()
    folder.chmod(stat.S_IRUSR | stat.S_IXUSR)
    return folder


def _secret(w: World) -> Path:
    return write_text(w.path("jwt.secret"), "q" * 48)


def _non_utf8_name(w: World, content: bytes | None) -> bytes:
    name = os.fsencode(w.root) + b"/k6_\xff.json"
    if content is not None:
        Path(os.fsdecode(name)).write_bytes(content)
    return name


def _line_of(text: str) -> int:
    """The line of the packaged slos.yaml where `text` first stands (the file grows; the cases follow it)."""
    lines = DEFAULT_SLOS_PATH.read_text().splitlines()
    return next(number for number, line in enumerate(lines, 1) if text in line)


def _render_slos(name: str, old: str, new: str) -> Callable[[World], list[str | bytes]]:
    """`ops render` of the packaged slos.yaml with `old` replaced by `new`."""
    return lambda w: ["ops", "render", "--out", str(w.path("out")), "--slos", str(w.slos(name, old, new))]


PUB = "--public-key"
CASES: dict[str, Case] = {
    # keygen
    "keygen: --out too long": Case(lambda w: ["keygen", "--out", f"{w.root}/{LONG}"], "too long"),
    "keygen: a folder where the key goes": Case(
        lambda w: ["keygen", "--out", str(_key_folder(w))], "evidence-signing.key: is a folder"
    ),
    "keygen: --out in a folder nobody may write": Case(
        lambda w: ["keygen", "--out", str(_unwritable_dir(w) / "keys")], "read-only", unprivileged=True
    ),
    # verify
    "verify: a path too long": Case(lambda w: ["verify", f"/{LONG}", PUB, str(w.public_key)], "too long"),
    "verify: a member nobody may read": Case(
        lambda w: [
            "verify",
            str(w.closed(w.copy_bundle("b1") / "slo" / "metrics.json").parent.parent),
            PUB,
            str(w.public_key),
        ],
        "slo/metrics.json: permission denied",
        unprivileged=True,
    ),
    "verify: raw/ nobody may list": Case(
        lambda w: ["verify", str(w.closed(w.copy_bundle("b2") / "raw").parent), PUB, str(w.public_key)],
        "raw: a folder of the bundle: permission denied",
        unprivileged=True,
    ),
    "verify: the whole bundle closed": Case(
        lambda w: ["verify", str(w.closed(w.copy_bundle("b3"))), PUB, str(w.public_key)],
        "permission denied",
        unprivileged=True,
    ),
    "verify: an archive nobody may read": Case(
        lambda w: [
            "verify",
            str(w.closed(Path(write_bytes(w.path("c.tar.gz"), w.archive)))),
            PUB,
            str(w.public_key),
        ],
        "c.tar.gz: permission denied",
        unprivileged=True,
    ),
    "verify: a key nobody may read": Case(
        lambda w: [
            "verify",
            str(w.bundle_dir),
            PUB,
            str(w.closed(Path(write_bytes(w.path("k.pub"), w.public_key)))),
        ],
        "k.pub",
        unprivileged=True,
    ),
    "verify: the folder above the bundle": Case(
        lambda w: ["verify", str(_above_bundle(w)), PUB, str(w.public_key)], "a bundle is in"
    ),
    "verify: a zip named .tar.gz": Case(
        lambda w: ["verify", str(_zip_named_tar_gz(w)), PUB, str(w.public_key)], "not a gzip-compressed tar"
    ),
    "verify: VP_S3_ENDPOINT_URL not a URL": Case(
        lambda w: ["verify", "s3://bucket/x/evidence/v24.1/", PUB, str(w.public_key)],
        "VP_S3_ENDPOINT_URL",
        env=lambda w: {"VP_S3_BUCKET": "evidence", "VP_S3_ENDPOINT_URL": "not a url"},
    ),
    "verify: VP_S3_BUCKET not a bucket name": Case(
        lambda w: ["verify", "s3://bucket/x/evidence/v24.1/", PUB, str(w.public_key)],
        "VP_S3_BUCKET",
        env=lambda w: {"VP_S3_BUCKET": "Not A Bucket!"},
    ),
    # audit
    "audit: raw/ nobody may list": Case(
        lambda w: ["audit", str(w.closed(w.copy_bundle("b4") / "raw").parent), PUB, str(w.public_key)],
        "raw: a folder of the bundle: permission denied",
        unprivileged=True,
    ),
    "audit: a path too long": Case(lambda w: ["audit", f"/{LONG}"], "too long"),
    "audit: --baseline is the bundle itself": Case(
        lambda w: ["audit", str(w.bundle_dir), "--baseline", str(w.bundle_dir)],
        "--baseline names the audited",
    ),
    # lineage and promote
    "lineage: an RC number of 5,000 digits": Case(
        lambda w: ["lineage", "v24.1.0-rc" + "9" * 5000], "is not a release-candidate tag"
    ),
    "lineage: dagster.yaml that is not text": Case(
        lambda w: ["lineage", "v24.1.0-rc1"],
        "dagster.yaml",
        env=lambda w: {"DAGSTER_HOME": str(_binary_dagster_home(w))},
    ),
    "promote: not an RC tag": Case(
        lambda w: ["promote", "v24.1.0", PUB, str(w.public_key)], "is not a release-candidate tag"
    ),
    # demo and stack
    "demo: a duration k6 cannot read": Case(lambda w: ["demo", "--duration", "soon"], "--duration"),
    "stack status: VP_HOME is a file": Case(
        lambda w: ["stack", "status"],
        "VP_HOME",
        env=lambda w: {"VP_HOME": str(write_text(w.path("home"), ""))},
    ),
    "stack status: VP_STACK_PORT_BASE not a number": Case(
        lambda w: ["stack", "status"], "VP_STACK_PORT_BASE", env=lambda w: {"VP_STACK_PORT_BASE": "lots"}
    ),
    # k6
    "k6 summarize: a missing file named in bytes that are not UTF-8": Case(
        lambda w: ["k6", "summarize", _non_utf8_name(w, None)], "k6_\\xff.json: cannot read"
    ),
    "k6 summarize: a scan report by mistake": Case(
        lambda w: ["k6", "summarize", str(write_text(w.path("grype.json"), '{"matches":[],"source":{}}\n'))],
        "is not a line of k6",
    ),
    "k6 summarize: a file nobody may read": Case(
        lambda w: ["k6", "summarize", str(w.closed(Path(write_bytes(w.path("run.json"), w.k6_file))))],
        "run.json' is not readable",
        unprivileged=True,
    ),
    "k6 gate: --confidence 0.5": Case(
        lambda w: ["k6", "gate", str(w.k6_file), "--p95", "350", "--error-rate", "1", "--confidence", "0.5"],
        "--confidence must lie above 0.5",
    ),
    "k6 gate: no --error-rate": Case(
        lambda w: ["k6", "gate", str(w.k6_file), "--p95", "350"], "--error-rate"
    ),
    # scan
    "scan summarize: SARIF with a null run": Case(
        lambda w: [
            "scan",
            "summarize",
            str(write_text(w.path("s.sarif"), '{"version":"2.1.0","runs":[null]}')),
        ],
        "[runs[0]]: an entry is null",
    ),
    "scan summarize: trivy with a null result": Case(
        lambda w: [
            "scan",
            "summarize",
            str(write_text(w.path("t.json"), '{"SchemaVersion":2,"ArtifactName":"x","Results":[null]}')),
        ],
        "[Results[0]]: an entry is null",
    ),
    "scan summarize: a report nobody may read": Case(
        lambda w: ["scan", "summarize", str(w.closed(write_text(w.path("closed.json"), "{}")))],
        "closed.json' is not readable",
        unprivileged=True,
    ),
    # ops
    "ops render: --out too long": Case(lambda w: ["ops", "render", "--out", f"{w.root}/{LONG}"], "too long"),
    "ops render: threshold: yes": Case(
        _render_slos("y.yaml", "threshold: 350", "threshold: yes"),
        f"y.yaml:{_line_of('threshold: 350')} [slos[0].threshold]: expected a number, got 'yes'",
    ),
    "ops render: a key given twice": Case(
        _render_slos("d.yaml", "threshold: 350", "threshold: 350\n    threshold: 1"),
        f"d.yaml:{_line_of('threshold: 350') + 1}: `threshold` is given twice (also on line {_line_of('threshold: 350')})",
    ),
    "ops render: min_samples: 1e23": Case(
        _render_slos("m.yaml", "min_samples: 200", "min_samples: 1e23"),
        f"m.yaml:{_line_of('min_samples: 200')} [slos[0].min_samples]",
    ),
    "ops render: an error-rate threshold of 0": Case(
        _render_slos("z.yaml", "threshold: 0.1", "threshold: 0"), "z.yaml [slos[2].threshold]"
    ),
    "ops render: --slos nobody may read": Case(
        lambda w: [
            "ops",
            "render",
            "--out",
            str(w.path("o5")),
            "--slos",
            str(w.closed(w.slos("c.yaml", "x", "x"))),
        ],
        "c.yaml' is not readable",
        unprivileged=True,
    ),
    # fanout
    "fanout run: 10^25 subscribers": Case(
        lambda w: [
            "fanout",
            "run",
            "--url",
            "http://127.0.0.1:9/graphql",
            "--token",
            "t",
            "--subscribers",
            "1" + "0" * 25,
        ],
        "--subscribers",
    ),
    # target
    "target token: --ttl of 10^23 seconds": Case(
        lambda w: ["target", "token", "--secret-file", str(_secret(w)), "--ttl", "1" + "0" * 23], "--ttl"
    ),
    "target token: --scopes ,,,": Case(
        lambda w: ["target", "token", "--secret-file", str(_secret(w)), "--scopes", ",,,"],
        "--scopes names no scope",
    ),
    "target token: an unknown scope": Case(
        lambda w: ["target", "token", "--secret-file", str(_secret(w)), "--scopes", "bogus"],
        "unknown scope(s) bogus",
    ),
    "target token: a secret nobody may read": Case(
        lambda w: ["target", "token", "--secret-file", str(w.closed(_secret(w)))],
        "jwt.secret",
        unprivileged=True,
    ),
}


def write_bytes(path: Path, source: Path) -> Path:
    path.write_bytes(source.read_bytes())
    return path


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, bundle: EvidenceBundle, key_pair: KeyPairFiles) -> World:
    root = tmp_path_factory.mktemp("bad-input")
    return World(
        root=root,
        public_key=key_pair.public_key,
        bundle_dir=write_directory(bundle, root / "bundle"),
        archive=write_archive(bundle, root / "bundle-ok.tar.gz"),
        k6_file=write(root / "read.json", k6_lines(20)),
    )


@pytest.mark.parametrize("name", list(CASES))
def test_a_users_mistake_is_exit_2_naming_what_is_wrong(world: World, tmp_path: Path, name: str) -> None:
    case = CASES[name]
    scratch = World(world.root, world.public_key, world.bundle_dir, world.archive, world.k6_file)
    scratch.root = tmp_path  # each case's own files
    args = case.args(scratch)
    home = tmp_path / "vp-home"
    env = {"VP_HOME": str(home), "COLUMNS": "80", **case.env(scratch)}
    finished = run_cli(args, env=env, unprivileged=case.unprivileged)
    shown = finished.err + finished.out
    assert finished.code == 2, f"{name}: exit {finished.code}\n{shown}"
    assert finished.err.startswith("error: "), shown
    assert case.names in finished.err, f"{name}: {case.names!r} not in\n{finished.err}"
    assert not leaks(shown), shown
    assert max(map(len, shown.splitlines())) < 600, "a message line is no place for a 100 KB path"
    assert not (home / "logs").exists(), "a user's mistake is no internal error"
