"""The sampler against real processes: a client spinning on a core is seen at its CPU share, an
idle one is not, descendants count, and the target is found by its listening port."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

from verification_pipeline.health.assess import HealthLimits, assess, phase_record
from verification_pipeline.health.sampler import HealthSampler, descendants, local_listener_pid

# Bounded: the machine is shared, so a spinning process stops itself after a few seconds.
SPIN = "import time\nend = time.monotonic() + {s}\nwhile time.monotonic() < end: pass\n"


def test_a_spinning_client_shows_its_cpu_and_an_idle_one_does_not():
    spinner = subprocess.Popen([sys.executable, "-c", SPIN.format(s=4)])
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(4)"])
    try:
        with (
            HealthSampler([spinner.pid], interval_s=0.5) as busy,
            HealthSampler([sleeper.pid], interval_s=0.5) as idle,
        ):
            time.sleep(3)
    finally:
        spinner.wait(timeout=30)
        sleeper.wait(timeout=30)
    assert len(busy.samples) >= 4 and len(idle.samples) >= 4
    cores = busy.cores
    # A spinner always wants a core: each second it either ran or waited for one, so its share of
    # one core and its wait share add up to about the whole second, however busy the machine is.
    for sample in busy.samples[1:-1]:  # the edges may hold its start or end
        ran = sample.client_cpu_pct * cores / 100
        assert abs(ran - (1 - sample.client_wait_pct / 100)) < 0.25, sample
    assert max(s.client_cpu_pct for s in idle.samples) < 5
    assert all(0 <= s.steal_pct <= 100 and s.load1 >= 0 for s in busy.samples)


def test_a_client_pinned_beside_a_hog_is_assessed_as_saturated():
    """The load generator saturated on purpose: the client and a hog share one core (taskset), so
    the client waits for the core about half the time, and the phase says so."""
    hog = subprocess.Popen(["taskset", "-c", "0", sys.executable, "-c", SPIN.format(s=6)])
    client = subprocess.Popen(["taskset", "-c", "0", sys.executable, "-c", SPIN.format(s=6)])
    try:
        with HealthSampler([client.pid], interval_s=0.5) as sampler:
            time.sleep(4)
    finally:
        client.wait(timeout=30)
        hog.wait(timeout=30)
    limits = HealthLimits(max_client_wait_pct=30, min_saturated_s=1)
    assessed = assess([phase_record("read", "k6", sampler.samples, cores=sampler.cores)], limits)
    phase = assessed["phases"][0]
    assert phase["saturated"], phase
    assert any("k6 waited for a CPU" in reason for reason in phase["reasons"])


def test_descendants_are_part_of_the_client():
    parent = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import subprocess, sys, time; c = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(5)']); time.sleep(5)",
        ]
    )
    try:
        deadline = time.monotonic() + 10
        while len(descendants([parent.pid])) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert len(descendants([parent.pid])) == 2
    finally:
        parent.kill()
        parent.wait()


def test_the_local_target_is_found_by_its_port():
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        assert local_listener_pid(port) == os.getpid()
    assert local_listener_pid(port) is None
