"""Session fixture: a throwaway PostgreSQL cluster from Debian's binaries, on loopback.

- `postgres` (session): one cluster, `initdb` into a temp dir and `pg_ctl start` on 127.0.0.1 and
  a free port, with its socket in that temp dir, an application role with a password (TCP
  logins need it: scram-sha-256) and a database it owns. Stopped and deleted at teardown.
- `postgres_db` (function): a new empty database in that cluster, owned by the same role, so a
  test sees exactly the tables it created.

PostgreSQL refuses to run as root, so as root the binaries run as the `postgres` system user
(created by the Debian package) on a data dir chowned to it. Durability is switched off
(`fsync`, `synchronous_commit`, `full_page_writes`): the cluster lives for one session, and a
2-core machine shared with other suites should not spend its time flushing.
"""

from __future__ import annotations

import glob
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import psycopg2
import psycopg2.extensions
import pytest
from psycopg2 import sql

HOST = "127.0.0.1"
SYSTEM_USER = "postgres"
SUPERUSER = "postgres"
APP_USER = "vp_dagster"
START_TIMEOUT_S = 60
START_ATTEMPTS = 3  # another process may take the free port between our probe and the bind


def postgres_bin_dir() -> Path:
    """The newest Debian PostgreSQL under /usr/lib/postgresql/<version>/bin."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[-3]))
    if not found:
        raise RuntimeError(
            "PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/initdb): run `make system-deps` "
            "or `apt-get install -y --no-install-recommends postgresql`"
        )
    return Path(found[-1]).parent


@dataclass(frozen=True)
class PostgresDatabase:
    """One database reachable over TCP with a password, as the production instance reaches it."""

    host: str
    port: int
    user: str
    password: str = field(repr=False)
    database: str

    def env(self) -> dict[str, str]:
        """The DAGSTER_PG_* variables infra/dagster.yaml reads."""
        return {
            "DAGSTER_PG_HOST": self.host,
            "DAGSTER_PG_PORT": str(self.port),
            "DAGSTER_PG_USER": self.user,
            "DAGSTER_PG_PASSWORD": self.password,
            "DAGSTER_PG_DB": self.database,
        }

    def connect(self) -> psycopg2.extensions.connection:
        """A connection as the application role over TCP (so password auth is exercised)."""
        return psycopg2.connect(
            host=self.host,
            port=self.port,
            user=self.user,
            password=self.password,
            dbname=self.database,
            connect_timeout=10,
        )

    def query(self, statement: str, params: tuple = ()) -> list[tuple]:
        with self.connect() as conn, conn.cursor() as cursor:
            cursor.execute(statement, params)
            rows = cursor.fetchall()
        conn.close()
        return rows


@dataclass
class PostgresCluster:
    """A running cluster: its data dir, socket dir and the application database."""

    bin_dir: Path
    home: Path
    port: int
    app: PostgresDatabase

    @property
    def data_dir(self) -> Path:
        return self.home / "data"

    @property
    def socket_dir(self) -> Path:
        return self.home / "socket"

    @property
    def log_path(self) -> Path:
        return self.home / "postgres.log"

    def superuser(self) -> psycopg2.extensions.connection:
        """The bootstrap superuser over the private Unix socket (trust auth, never over TCP)."""
        conn = psycopg2.connect(host=str(self.socket_dir), port=self.port, user=SUPERUSER, dbname="postgres")
        conn.autocommit = True  # CREATE DATABASE cannot run inside a transaction
        return conn

    def create_database(self, name: str) -> PostgresDatabase:
        conn = self.superuser()
        try:
            with conn.cursor() as cursor:
                cursor.execute(
                    sql.SQL("CREATE DATABASE {} OWNER {}").format(
                        sql.Identifier(name), sql.Identifier(self.app.user)
                    )
                )
        finally:
            conn.close()
        return replace(self.app, database=name)

    def log_tail(self, lines: int = 30) -> str:
        if not self.log_path.exists():
            return "(no server log)"
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


def _as_cluster_owner(argv: list[str]) -> list[str]:
    return ["runuser", "-u", SYSTEM_USER, "--", *argv] if os.geteuid() == 0 else argv


def _run(argv: list[str], cwd: Path, what: str, timeout: float = START_TIMEOUT_S) -> None:
    # cwd: the postgres user may not be allowed into the caller's working directory
    done = subprocess.run(
        _as_cluster_owner(argv),
        check=False,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )
    if done.returncode != 0:
        raise RuntimeError(f"{what} failed with exit code {done.returncode}:\n{done.stdout}\n{done.stderr}")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def _private_home() -> Path:
    # Not under pytest's tmp dir: that is 0700 and owned by root, so `postgres` could not enter it.
    home = Path(tempfile.mkdtemp(prefix="vp-postgres-"))
    (home / "data").mkdir()
    (home / "socket").mkdir()
    if os.geteuid() == 0:
        owner = pwd.getpwnam(SYSTEM_USER)
        for path in (home, home / "data", home / "socket"):
            os.chown(path, owner.pw_uid, owner.pw_gid)
    return home


def _start(cluster: PostgresCluster) -> None:
    options = " ".join(
        [
            f"-c listen_addresses={HOST}",
            f"-p {cluster.port}",
            f"-k {cluster.socket_dir}",
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off",
        ]
    )
    _run(
        [
            str(cluster.bin_dir / "pg_ctl"),
            "-D",
            str(cluster.data_dir),
            "-l",
            str(cluster.log_path),
            "-o",
            options,
            "-w",
            "-t",
            str(START_TIMEOUT_S),
            "start",
        ],
        cluster.home,
        f"pg_ctl start on {HOST}:{cluster.port}",
        timeout=START_TIMEOUT_S + 10,
    )


def start_cluster() -> PostgresCluster:
    """initdb, start on a free port, and create the application role and database."""
    bin_dir = postgres_bin_dir()
    home = _private_home()
    password = secrets.token_urlsafe(24)
    app = PostgresDatabase(HOST, 0, APP_USER, password, "dagster")
    cluster = PostgresCluster(bin_dir, home, 0, app)
    try:
        _initialize(cluster, password)
    except BaseException:
        stop_cluster(cluster)
        raise
    return cluster


def _initialize(cluster: PostgresCluster, password: str) -> None:
    bin_dir, home, app = cluster.bin_dir, cluster.home, cluster.app
    _run(
        [
            str(bin_dir / "initdb"),
            "-D",
            str(cluster.data_dir),
            "-U",
            SUPERUSER,
            "--no-locale",
            "-E",
            "UTF8",
            "--auth-local=trust",
            "--auth-host=scram-sha-256",
        ],
        home,
        "initdb",
    )
    for attempt in range(START_ATTEMPTS):
        cluster.port = _free_port()
        try:
            _start(cluster)
            break
        except RuntimeError:
            if attempt == START_ATTEMPTS - 1 or "could not bind" not in cluster.log_tail():
                raise RuntimeError(f"PostgreSQL did not start; server log:\n{cluster.log_tail()}") from None
    cluster.app = replace(app, port=cluster.port)
    conn = cluster.superuser()
    try:
        with conn.cursor() as cursor:
            # psycopg2 quotes the password into the statement client-side; it is never printed
            cursor.execute(
                sql.SQL("CREATE ROLE {} LOGIN PASSWORD %s").format(sql.Identifier(APP_USER)), (password,)
            )
    finally:
        conn.close()
    cluster.create_database(app.database)


def stop_cluster(cluster: PostgresCluster) -> None:
    try:
        if (cluster.data_dir / "postmaster.pid").exists():
            _run(
                [str(cluster.bin_dir / "pg_ctl"), "-D", str(cluster.data_dir), "-m", "fast", "-w", "stop"],
                cluster.home,
                "pg_ctl stop",
            )
    finally:
        shutil.rmtree(cluster.home, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresCluster]:
    started = time.monotonic()
    cluster = start_cluster()
    print(
        f"PostgreSQL ({cluster.bin_dir.parent.name}) on {HOST}:{cluster.port} in {time.monotonic() - started:.1f}s"
    )
    try:
        yield cluster
    finally:
        stop_cluster(cluster)


@pytest.fixture
def postgres_db(postgres: PostgresCluster) -> PostgresDatabase:
    """A new, empty database for one test."""
    return postgres.create_database(f"t_{secrets.token_hex(6)}")
