"""`stack up | down | status`: SeaweedFS (S3) and the reference target on loopback.

Everything lives under `<VP_HOME>/stack/`: the store's data (kept across `down`), the S3
identities file and the credentials env file (both 0600, generated once), the target's JWT
secret and admin token (0600), logs, and `state.json` naming the processes we started.
The store refuses anonymous requests: only the generated identity can read or write.
"""

from __future__ import annotations

import json
import os
import secrets
import string
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from verification_pipeline.envvars import env_int
from verification_pipeline.errors import StackError, StorageError
from verification_pipeline.fileio import atomic_write
from verification_pipeline.paths import PACKAGE_DIR, project_root, tool_path, vp_home
from verification_pipeline.release.git import checkout_head
from verification_pipeline.stack import processes
from verification_pipeline.stack.processes import ProcessRecord
from verification_pipeline.storage.s3 import ObjectStore, S3Settings

HOST = "127.0.0.1"
BASELINE_TARGET = "baseline_target"
DEFAULT_PORT_BASE = 18300
# the stack listens on base..base+40 and each gRPC port 10000 above its HTTP port
MAX_PORT_BASE = 65535 - 10040
DEFAULT_BUCKET = "verification-evidence"
DEFAULT_PREFIX = "verification"
START_TIMEOUT_S = 60.0
# grype and trivy cannot run offline: the embedded stack imports a sample CI report
# (verification_pipeline/demo_inputs/README.md says what it is). The policy gate is measured:
# the package's Rego policies on the RC commit's files (policy/gate.py); the canned OPA sample
# is for import mode only.
DEMO_REPORTS = {
    "VP_VULN_REPORT": str(PACKAGE_DIR / "demo_inputs" / "vulns.grype.json"),
}


@dataclass(frozen=True)
class StackPorts:
    """Every port SeaweedFS and the target listen on, derived from one base so tests can move them all."""

    base: int

    @property
    def s3(self) -> int:
        return self.base + 33

    @property
    def target(self) -> int:
        return self.base + 40

    @property
    def baseline_target(self) -> int:
        """The concurrent baseline's reference target (issue 24): the baseline RC's settings."""
        return self.base + 39

    def seaweedfs(self) -> dict[str, int]:
        http = {"master": self.base, "volume": self.base + 1, "filer": self.base + 2, "s3": self.s3}
        grpc = {f"{role} grpc": port + 10000 for role, port in http.items()}
        return {**http, **grpc}


class _InHome:
    """A path of the stack's: `name` below the layout's home."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __get__(self, layout: StackLayout, owner: type | None = None) -> Path:
        return layout.home / self.name


@dataclass
class StackLayout:
    home: Path = field(default_factory=lambda: vp_home() / "stack")

    data_dir = _InHome("seaweedfs")
    s3_identities = _InHome("s3-identities.json")
    env_file = _InHome("env")
    state_file = _InHome("state.json")
    jwt_secret = _InHome("target-jwt.secret")
    admin_token = _InHome("target-admin.token")
    weed_jwt_keys = _InHome("seaweedfs-jwt.env")
    logs = _InHome("logs")


@dataclass
class StackStatus:
    running: dict[str, ProcessRecord]
    stale: list[str]
    settings: S3Settings | None
    target_url: str | None

    def lines(self) -> list[str]:
        out = []
        for name, record in self.running.items():
            out.append(f"{name}: running (pid {record.pid}, log {record.log})")
        out.extend(f"{name}: not running (stale record)" for name in self.stale)
        if not self.running and not self.stale:
            out.append("stack: not running")
        if self.settings:
            out.append(
                f"s3: {self.settings.endpoint_url} bucket {self.settings.bucket} key {self.settings.masked_key()}"
            )
        if self.target_url:
            out.append(f"target: {self.target_url}graphql")
        return out


def _write_secret(path: Path, content: str) -> None:
    """Create a file readable by its owner only, without a window where it is world-readable."""
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, content.encode(), mode=0o600)


def _random(alphabet: str, length: int) -> str:
    return "".join(secrets.choice(alphabet) for _ in range(length))


def read_env_file(path: Path) -> dict[str, str]:
    values: dict[str, str] = {}
    for line in path.read_text().splitlines():
        if "=" in line and not line.startswith("#"):
            key, _, value = line.removeprefix("export ").partition("=")
            values[key.strip()] = value.strip().strip("'\"")
    return values


class Stack:
    """The embedded stack under one home directory."""

    def __init__(
        self, layout: StackLayout | None = None, port_base: int | None = None, with_target: bool = True
    ):
        self.layout = layout or StackLayout()
        self.ports = StackPorts(
            port_base
            or env_int(os.environ, "VP_STACK_PORT_BASE", DEFAULT_PORT_BASE, low=1024, high=MAX_PORT_BASE)
        )
        self.with_target = with_target

    # --- credentials -------------------------------------------------------------------------

    def _ensure_credentials(self) -> None:
        """Generate the S3 identity, JWT secret and admin token once; later `up`s reuse them."""
        if not self.layout.s3_identities.exists():
            access = "VP" + _random(string.ascii_uppercase + string.digits, 18)
            secret = _random(string.ascii_letters + string.digits, 40)
            identities = {
                "identities": [
                    {
                        "name": "verification-pipeline",
                        "credentials": [{"accessKey": access, "secretKey": secret}],
                        "actions": ["Admin", "Read", "Write", "List", "Tagging"],
                    }
                ]
            }
            _write_secret(self.layout.s3_identities, json.dumps(identities, indent=2))
        if not self.layout.jwt_secret.exists():
            _write_secret(self.layout.jwt_secret, secrets.token_urlsafe(48))
        if not self.layout.admin_token.exists():
            _write_secret(self.layout.admin_token, secrets.token_urlsafe(24))
        if not self.layout.weed_jwt_keys.exists():
            # The volume servers then accept reads and writes only with a token the master
            # signs for the S3 gateway: the store's internal HTTP API is closed to everyone else.
            keys = {
                "WEED_JWT_SIGNING_KEY": secrets.token_hex(32),
                "WEED_JWT_SIGNING_READ_KEY": secrets.token_hex(32),
            }
            _write_secret(self.layout.weed_jwt_keys, "".join(f"{k}={v}\n" for k, v in keys.items()))
        identity = json.loads(self.layout.s3_identities.read_text())["identities"][0]["credentials"][0]
        env = {
            "VP_S3_ENDPOINT_URL": f"http://{HOST}:{self.ports.s3}",
            "VP_S3_REGION": "us-east-1",
            "VP_S3_BUCKET": DEFAULT_BUCKET,
            "VP_S3_PREFIX": DEFAULT_PREFIX,
            "VP_S3_ACCESS_KEY_ID": identity["accessKey"],
            "VP_S3_SECRET_ACCESS_KEY": identity["secretKey"],
            "VP_S3_OBJECT_LOCK_MODE": "COMPLIANCE",
            "VP_TARGET_GRAPHQL_URL": f"http://{HOST}:{self.ports.target}/graphql",
            "VP_TARGET_JWT_SECRET_FILE": str(self.layout.jwt_secret),
            "VP_TARGET_ADMIN_TOKEN_FILE": str(self.layout.admin_token),
            "VP_EVIDENCE_DEV_KEY_DIR": str(self.layout.home / "dev-signing-key"),
            **DEMO_REPORTS,
        }
        _write_secret(self.layout.env_file, "".join(f"export {k}={v}\n" for k, v in env.items()))

    def env(self) -> dict[str, str]:
        """The variables that point a process at this stack (S3 settings, target URL)."""
        if not self.layout.env_file.exists():
            raise StackError(
                "the embedded stack has no credentials yet", hint="run `verification-pipeline stack up`"
            )
        return read_env_file(self.layout.env_file)

    def settings(self) -> S3Settings:
        return S3Settings.from_env(self.env())

    # --- state -------------------------------------------------------------------------------

    def _records(self) -> dict[str, ProcessRecord]:
        if not self.layout.state_file.exists():
            return {}
        raw = json.loads(self.layout.state_file.read_text())
        return {name: ProcessRecord.from_dict(rec) for name, rec in raw.get("processes", {}).items()}

    def _save(self, records: dict[str, ProcessRecord]) -> None:
        self.layout.home.mkdir(parents=True, exist_ok=True)
        state = {"port_base": self.ports.base, "processes": {n: r.to_dict() for n, r in records.items()}}
        atomic_write(self.layout.state_file, json.dumps(state, indent=2).encode())

    def _saved_port_base(self) -> int | None:
        if not self.layout.state_file.exists():
            return None
        return json.loads(self.layout.state_file.read_text()).get("port_base")

    # --- commands ----------------------------------------------------------------------------

    def status(self) -> StackStatus:
        records = self._records()
        running = {n: r for n, r in records.items() if processes.is_alive(r)}
        stale = [n for n in records if n not in running]
        settings = self.settings() if self.layout.env_file.exists() else None
        target_url = None
        if "target" in running:
            target_url = f"http://{HOST}:{self.ports.target}/"
        return StackStatus(running=running, stale=stale, settings=settings, target_url=target_url)

    def up(self, progress: Callable[[str], object] = print) -> StackStatus:
        """Start what is not running yet, wait until it answers; a second call starts nothing."""
        saved_base = self._saved_port_base()
        records = {n: r for n, r in self._records().items() if processes.is_alive(r)}
        if records and saved_base is not None and saved_base != self.ports.base:
            raise StackError(
                f"the stack already runs with port base {saved_base}",
                hint="run `verification-pipeline stack down` before changing ports",
            )
        self._ensure_credentials()
        settings = self.settings()
        if "seaweedfs" not in records:
            processes.ensure_ports_free(HOST, self.ports.seaweedfs())
            records["seaweedfs"] = self._start_seaweedfs()
            self._save(records)
            progress(
                f"seaweedfs: started (pid {records['seaweedfs'].pid}), waiting for S3 on {settings.endpoint_url}"
            )
        self._wait_for_s3(settings, records["seaweedfs"])
        ObjectStore(settings).ensure_bucket(object_lock=True)
        self._wait_until_readable(settings)
        progress(f"s3: bucket {settings.bucket} ready (versioning and Object Lock enabled)")
        if self.with_target and "target" not in records:
            processes.ensure_ports_free(HOST, {"target": self.ports.target})
            records["target"] = self._start_target()
            self._save(records)
            progress(f"target: started (pid {records['target'].pid}) on http://{HOST}:{self.ports.target}")
        if "target" in records:
            self._wait_for_target(records["target"])
        self._save(records)
        return self.status()

    def down(self) -> list[str]:
        """Stop exactly the processes recorded as ours; the data stays for the next `up`."""
        stopped: list[str] = []
        records = self._records()
        for name in (BASELINE_TARGET, "target", "seaweedfs"):
            if name in records and processes.stop(records[name]):
                stopped.append(name)
        if self.layout.state_file.exists():
            self.layout.state_file.unlink()
        return stopped

    def start_baseline_target(self, faults: dict[str, str] | None) -> str:
        """A second reference target beside the first, with `faults` (the baseline RC's settings)
        from its start; its GraphQL URL. It shares the JWT secret, so one token serves both."""
        records = self._records()
        if BASELINE_TARGET in records and processes.is_alive(records[BASELINE_TARGET]):
            processes.stop(records[BASELINE_TARGET])
        processes.ensure_ports_free(HOST, {BASELINE_TARGET: self.ports.baseline_target})
        flags = [f"--{name.replace('_', '-')}={value}" for name, value in (faults or {}).items()]
        record = self._start_target(port=self.ports.baseline_target, name=BASELINE_TARGET, extra=flags)
        records[BASELINE_TARGET] = record
        self._save(records)
        self._wait_for_target(record, port=self.ports.baseline_target)
        return f"http://{HOST}:{self.ports.baseline_target}/graphql"

    def stop_baseline_target(self) -> bool:
        """Stop the baseline target if we started it; whether one was stopped."""
        records = self._records()
        record = records.pop(BASELINE_TARGET, None)
        stopped = record is not None and processes.stop(record)
        if record is not None:
            self._save(records)
        return stopped

    def set_target_faults(self, changes: dict | None) -> dict:
        """Change the running target's injected faults (POST /admin/faults); None restores its start-up faults."""
        token = self.layout.admin_token.read_text().strip()
        url = f"http://{HOST}:{self.ports.target}/admin/faults"
        try:
            if changes is None:
                response = httpx.delete(url, headers={"X-Admin-Token": token}, timeout=5.0)
            else:
                response = httpx.post(url, json=changes, headers={"X-Admin-Token": token}, timeout=5.0)
        except httpx.HTTPError as exc:
            raise StackError(f"the reference target did not answer on {url}: {type(exc).__name__}") from None
        if response.status_code != 200:
            raise StackError(f"{url} answered {response.status_code}: {response.text[:200]}")
        return response.json()["faults"]

    # --- internals ---------------------------------------------------------------------------

    def _start_seaweedfs(self) -> ProcessRecord:
        p = self.ports.seaweedfs()
        self.layout.data_dir.mkdir(parents=True, exist_ok=True)
        argv = [
            str(tool_path("weed")),
            "server",
            f"-dir={self.layout.data_dir}",
            f"-ip={HOST}",
            f"-ip.bind={HOST}",
            f"-master.port={p['master']}",
            f"-master.port.grpc={p['master grpc']}",
            f"-volume.port={p['volume']}",
            f"-volume.port.grpc={p['volume grpc']}",
            f"-filer.port={p['filer']}",
            f"-filer.port.grpc={p['filer grpc']}",
            "-s3",
            f"-s3.port={p['s3']}",
            f"-s3.port.grpc={p['s3 grpc']}",
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
            f"-s3.config={self.layout.s3_identities}",
            "-master.telemetry=false",
            "-master.volumeSizeLimitMB=256",
            "-volume.max=0",
            "-iam=false",
            "-debug=false",
            # S3 is the only way in: the filer's own HTTP API would bypass keys and Object Lock
            "-filer.disableHttp",
        ]
        env = {**os.environ, **read_env_file(self.layout.weed_jwt_keys)}
        return processes.spawn("seaweedfs", argv, self.layout.logs / "seaweedfs.log", env=env)

    def _start_target(
        self, port: int | None = None, name: str = "target", extra: list[str] | None = None
    ) -> ProcessRecord:
        argv = [
            sys.executable,
            "-m",
            "reference_target",
            "--host",
            HOST,
            "--port",
            str(port or self.ports.target),
            "--jwt-secret-file",
            str(self.layout.jwt_secret),
            "--admin-token-file",
            str(self.layout.admin_token),
            # the embedded target is built from this checkout, and the demo's RC is this
            # checkout's HEAD (not a git tag): the commit the pipeline requires it to report
            "--build-commit",
            checkout_head(project_root()),
            *(extra or []),
        ]
        return processes.spawn(name, argv, self.layout.logs / f"{name}.log")

    def _wait_for_s3(self, settings: S3Settings, record: ProcessRecord) -> None:
        store = ObjectStore(settings)
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if not processes.is_alive(record):
                raise StackError(
                    "seaweedfs exited during start-up:\n" + processes.log_tail(record.log),
                    hint=f"see {record.log}",
                )
            if store.answers():
                return
            time.sleep(0.25)
        raise StackError(
            f"S3 did not answer on {settings.endpoint_url} within {START_TIMEOUT_S:.0f}s",
            hint=f"see {record.log}",
        )

    def _wait_until_readable(self, settings: S3Settings) -> None:
        """After a restart the listing answers about a second before objects can be read back."""
        store = ObjectStore(settings)
        key = "_stack/ready"
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            try:
                store.put_bytes(key, b"ready", overwrite=True)
                if store.get_bytes(key) == b"ready":
                    return
            except StorageError:
                if time.monotonic() > deadline:
                    raise
            time.sleep(0.25)

    def _wait_for_target(self, record: ProcessRecord, port: int | None = None) -> None:
        url = f"http://{HOST}:{port or self.ports.target}/healthz"
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if not processes.is_alive(record):
                raise StackError(
                    "the reference target exited during start-up:\n" + processes.log_tail(record.log)
                )
            try:
                if httpx.get(url, timeout=1.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise StackError(f"the reference target did not answer on {url}", hint=f"see {record.log}")
