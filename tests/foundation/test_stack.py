"""`stack up | down | status` with the real SeaweedFS binary."""

import os
import socket
import stat
import time

import psutil
import pytest

from tests.plugins.stack import free_port_base
from verification_pipeline.cli import main
from verification_pipeline.errors import StackError
from verification_pipeline.stack.control import Stack, StackLayout


def _weed_processes(data_dir):
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        cmd = proc.info["cmdline"] or []
        if cmd and cmd[0].endswith("weed") and any(str(data_dir) in part for part in cmd):
            found.append(proc.pid)
    return found


def test_up_twice_starts_one_store_and_down_leaves_nothing(tmp_path, capsys):
    layout = StackLayout(home=tmp_path / "stack")
    base = free_port_base()
    first = Stack(layout, port_base=base, with_target=False).up(progress=lambda _: None)
    second = Stack(layout, port_base=base, with_target=False).up(progress=lambda _: None)
    try:
        assert first.running["seaweedfs"].pid == second.running["seaweedfs"].pid
        assert len(_weed_processes(layout.data_dir)) == 1
        for secret_file in (layout.s3_identities, layout.env_file, layout.jwt_secret, layout.admin_token):
            assert stat.S_IMODE(os.stat(secret_file).st_mode) == 0o600
        # listening on loopback only
        conns = psutil.Process(first.running["seaweedfs"].pid).net_connections(kind="tcp")
        listening = {c.laddr.ip for c in conns if c.status == psutil.CONN_LISTEN}
        assert listening and listening <= {"127.0.0.1"}
    finally:
        stopped = Stack(layout, port_base=base).down()
    assert stopped == ["seaweedfs"]
    deadline = time.monotonic() + 10
    while _weed_processes(layout.data_dir) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _weed_processes(layout.data_dir) == []
    assert layout.data_dir.exists(), "down keeps the data"


def test_status_masks_the_credentials(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("VP_HOME", str(tmp_path))
    base = free_port_base()
    assert main(["stack", "up", "--no-target", "--port-base", str(base)]) == 0
    try:
        assert main(["stack", "status", "--port-base", str(base)]) == 0
        out = capsys.readouterr().out
        env = Stack(StackLayout(home=tmp_path / "stack")).env()
        assert env["VP_S3_SECRET_ACCESS_KEY"] not in out
        assert env["VP_S3_ACCESS_KEY_ID"] not in out
        assert "seaweedfs: running" in out
    finally:
        assert main(["stack", "down", "--port-base", str(base)]) == 0


def test_taken_port_is_a_clear_error_not_a_hang(tmp_path):
    base = free_port_base()
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", base + 33))
        holder.listen()
        started = time.monotonic()
        with pytest.raises(StackError, match=f"s3 port 127.0.0.1:{base + 33} is already in use"):
            Stack(StackLayout(home=tmp_path / "stack"), port_base=base, with_target=False).up(
                progress=lambda _: None
            )
        assert time.monotonic() - started < 5


def test_down_never_kills_a_stranger_with_a_recycled_pid(tmp_path):
    layout = StackLayout(home=tmp_path / "stack")
    layout.home.mkdir(parents=True)
    me = psutil.Process()
    # a record whose pid is alive but whose start time is not the one we recorded
    layout.state_file.write_text(
        '{"port_base": 1, "processes": {"seaweedfs": {"name": "seaweedfs", "pid": '
        + str(me.pid)
        + ', "create_time": 1.0, "log": "x"}}}'
    )
    assert Stack(layout).down() == []
    assert me.is_running()
