"""Start and stop a real single-node SLURM (Debian's slurm-wlm + munge) for the tests.

The configuration is the one ../shared/DESIGN.md records as working on these machines:
munged, then slurmctld and slurmd from a slurm.conf naming this host, cons_tres, no
accounting database, linuxproc process tracking, no task plugin, SlurmUser root.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

DAEMONS = ("munged", "slurmctld", "slurmd", "sbatch", "squeue", "sinfo")

#: The configuration must sit at SLURM's default path: snakemake-executor-plugin-slurm-jobstep
#: drops every SLURM_* variable (SLURM_CONF too) before its nested `srun`, which then finds
#: no configuration anywhere else on a cluster without DNS SRV records.
DEFAULT_CONF = Path("/etc/slurm/slurm.conf")


def why_not() -> str | None:
    """The reason a SLURM cannot be started here, or None when it can."""
    if os.geteuid() != 0:
        return "starting slurmctld/slurmd/munged needs root"
    missing = [d for d in DAEMONS if shutil.which(d) is None]
    if missing:
        return (
            f"Debian packages slurm-wlm and munge are not installed (missing {', '.join(missing)})"
        )
    if not Path("/etc/munge/munge.key").exists():
        return "munge has no key at /etc/munge/munge.key"
    if DEFAULT_CONF.exists():
        return f"{DEFAULT_CONF} exists: this machine has a SLURM of its own, which the test leaves alone"
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class SlurmCluster:
    """A single-node SLURM in ``root``; use as a context manager."""

    def __init__(self, root: Path, cpus: int | None = None, mem_mb: int = 8000):
        self.root = Path(root)
        self.host = socket.gethostname()
        self.cpus = cpus or os.cpu_count() or 1
        self.mem_mb = mem_mb
        self.conf = DEFAULT_CONF
        self.procs: list[str] = []
        self.started_munge = False

    @property
    def env(self) -> dict[str, str]:
        return {"SLURM_CONF": str(self.conf)}

    def _write_conf(self) -> None:
        self.conf.parent.mkdir(parents=True, exist_ok=True)
        for sub in ("state", "spool", "log"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        r = self.root
        self.conf.write_text(
            f"""ClusterName=clickbenchtest
SlurmctldHost={self.host}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation={r}/state
SlurmdSpoolDir={r}/spool
SlurmctldPidFile={r}/slurmctld.pid
SlurmdPidFile={r}/slurmd.pid
SlurmctldLogFile={r}/log/slurmctld.log
SlurmdLogFile={r}/log/slurmd.log
SlurmctldPort={_free_port()}
SlurmdPort={_free_port()}
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
ReturnToService=2
MpiDefault=none
NodeName={self.host} CPUs={self.cpus} RealMemory={self.mem_mb} State=UNKNOWN
PartitionName=debug Nodes={self.host} Default=YES MaxTime=INFINITE State=UP
"""
        )

    def start(self, timeout: float = 60) -> None:
        self._write_conf()
        if subprocess.run(["pgrep", "-x", "munged"], capture_output=True).returncode != 0:
            Path("/run/munge").mkdir(parents=True, exist_ok=True)
            subprocess.run(["munged", "--force"], check=True, capture_output=True)
            self.started_munge = True
        env = {**os.environ, **self.env}
        subprocess.run(["slurmctld", "-f", str(self.conf)], check=True, env=env)
        self.procs.append("slurmctld")
        subprocess.run(["slurmd", "-f", str(self.conf)], check=True, env=env)
        self.procs.append("slurmd")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            out = subprocess.run(
                ["sinfo", "-h", "-o", "%t"], capture_output=True, text=True, env=env
            )
            if out.returncode == 0 and out.stdout.strip() in ("idle", "mix", "alloc"):
                return
            time.sleep(0.5)
        self.stop()
        raise RuntimeError(f"SLURM did not come up in {timeout} s; logs in {self.root}/log")

    def stop(self) -> None:
        for name in ("slurmd", "slurmctld"):
            pidfile = self.root / f"{name}.pid"
            if pidfile.exists():
                try:
                    os.kill(int(pidfile.read_text().split()[0]), 15)
                except (ProcessLookupError, ValueError):
                    pass
        time.sleep(1)
        if self.started_munge:
            subprocess.run(["pkill", "-x", "munged"], capture_output=True)
        self.conf.unlink(missing_ok=True)

    def __enter__(self) -> SlurmCluster:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.stop()
