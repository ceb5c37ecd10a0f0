"""The workflow cancels Snakemake's leftover scheduler timer, so a run exits with its last job."""

from __future__ import annotations

import subprocess
import threading
from types import SimpleNamespace

import pytest
from conftest import TEST_CONFIG, snakemake_command, write_config
from snakemake.scheduling.job_scheduler import JobScheduler

from clickbench.snakemake_exit import cancel_rescheduling_timers


def _scheduler_timer(delay: float) -> tuple[threading.Thread, threading.Semaphore]:
    """The timer Snakemake's own scheduler starts after a round, on a stand-in scheduler."""
    open_jobs = threading.Semaphore(0)
    before = set(threading.enumerate())
    JobScheduler._schedule_reevalutation(SimpleNamespace(_open_jobs=open_jobs), delay)
    (timer,) = set(threading.enumerate()) - before
    return timer, open_jobs


def test_cancels_the_schedulers_timer_without_waking_the_scheduler():
    timer, open_jobs = _scheduler_timer(60)
    assert timer.is_alive() and not timer.daemon  # what the interpreter would wait for
    assert cancel_rescheduling_timers() == 1
    timer.join(timeout=10)
    assert not timer.is_alive()
    assert not open_jobs.acquire(blocking=False)  # the scheduler was not woken


def test_leaves_other_timers_alone():
    fired = threading.Event()
    other = threading.Timer(0.5, fired.set)
    other.start()
    try:
        assert cancel_rescheduling_timers() == 0
        assert fired.wait(timeout=10)  # it ran as it was meant to
    finally:
        other.cancel()


@pytest.mark.workflow
def test_a_run_ends_with_its_last_job_even_with_an_hour_long_rescheduling_timespan(tmp_path):
    """With a 1 h job-rate timespan Snakemake's timer would keep the process alive for an
    hour after the last job; the workflow's onsuccess handler cancels it."""
    configfile = write_config(tmp_path, TEST_CONFIG)
    cmd = snakemake_command(
        tmp_path,
        "--cores",
        "1",
        "--max-jobs-per-timespan",
        "100/1h",
        "demo_dataset",
        configfile=configfile,
    )
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Finished jobid" in proc.stderr
    assert (tmp_path / TEST_CONFIG["dataset"]["root"]).is_dir()
