"""A real single-node SLURM for tests: munged, slurmctld and slurmd started in a temporary folder.

Debian's ``slurm-wlm`` and ``munge`` packages (SLURM 22.05 on Debian 12) are all it needs; nothing
outside the folder is written and the daemons are stopped by their PIDs. One ``cpu`` partition holds
this machine (its CPUs, at most ``mem_mb`` of memory). Memory is enforced without cgroups
(``jobacct_gather/linux`` with ``OverMemoryKill``: a job past its ``--mem`` is killed, state
OUT_OF_MEMORY), so it works in a container. There is no accounting database: ``sacct`` is refused
and finished jobs are read from ``scontrol`` (they are kept for ``MinJobAge``).

    python tests/slurm_cluster.py /tmp/slurm      # stand one up by hand; prints the env to use
    # in tests: the ``slurm_cluster`` fixture of tests/test_sweeps_slurm.py
"""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

DAEMONS = ("munged", "slurmctld", "slurmd", "sbatch", "srun", "squeue", "scontrol", "scancel")


def missing() -> str | None:
    """Why no cluster can be stood up here (a missing program), or None."""
    for prog in DAEMONS:
        if shutil.which(prog) is None and not Path(f"/usr/sbin/{prog}").is_file():
            return f"{prog} not found: apt-get install slurm-wlm munge"
    if os.geteuid() != 0:
        return "slurmd must run as root to start jobs"
    return None


@dataclass
class SlurmCluster:
    """A running cluster: ``env`` (SLURM_CONF and PATH) is what clients need; ``stop()`` ends it."""

    root: Path
    env: dict
    procs: dict = field(default_factory=dict)

    @property
    def conf(self) -> Path:
        return self.root / "slurm.conf"

    def run(self, *args: str, check: bool = True) -> str:
        out = subprocess.run(list(args), env=self.env, capture_output=True, text=True, timeout=60)
        if check and out.returncode:
            raise RuntimeError(f"{' '.join(args)}: {out.stderr.strip()}")
        return out.stdout

    def stop(self) -> None:
        for name in ("slurmd", "slurmctld", "munged"):
            proc = self.procs.pop(name, None)
            if proc is None or proc.poll() is not None:
                continue
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)

    def logs(self) -> str:
        return "\n".join(f"--- {p.name}\n{p.read_text()[-3000:]}" for p in sorted(self.root.glob("*.log")))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("", 0))
        return s.getsockname()[1]


def _node_line(mem_mb: int) -> str:
    """This machine as slurmd sees it (``slurmd -C``), its memory capped at ``mem_mb``."""
    out = subprocess.run(["slurmd", "-C"], capture_output=True, text=True, timeout=30).stdout.split()
    fields = dict(w.split("=", 1) for w in out if "=" in w and not w.startswith("UpTime"))
    fields["RealMemory"] = str(min(int(fields["RealMemory"]), mem_mb))
    return " ".join(f"{k}={v}" for k, v in fields.items()) + " State=UNKNOWN"


def write_conf(root: Path, *, mem_mb: int = 4096) -> Path:
    host = socket.gethostname().split(".")[0]
    node = _node_line(mem_mb)
    lines = [
        "ClusterName=fairdd-test", f"SlurmctldHost={host}", "SlurmUser=root", "SlurmdUser=root",
        f"SlurmctldPort={_free_port()}", f"SlurmdPort={_free_port()}",
        "AuthType=auth/munge", "CredType=cred/munge", f"AuthInfo=socket={root / 'munge.socket'}",
        f"StateSaveLocation={root / 'state'}", f"SlurmdSpoolDir={root / 'spool'}",
        f"SlurmctldPidFile={root / 'slurmctld.pid'}", f"SlurmdPidFile={root / 'slurmd.pid'}",
        f"SlurmctldLogFile={root / 'slurmctld.log'}", f"SlurmdLogFile={root / 'slurmd.log'}",
        "ProctrackType=proctrack/linuxproc", "TaskPlugin=task/none",
        "SelectType=select/cons_tres", "SelectTypeParameters=CR_Core_Memory",
        "JobAcctGatherType=jobacct_gather/linux", "JobAcctGatherFrequency=1",
        "JobAcctGatherParams=OverMemoryKill", "AccountingStorageType=accounting_storage/none",
        "JobCompType=jobcomp/filetxt", f"JobCompLoc={root / 'jobcomp.txt'}", "MinJobAge=3600", "ReturnToService=2", "KillWait=5",
        "SchedulerType=sched/backfill", "SlurmctldDebug=info", "SlurmdDebug=info", "MpiDefault=none",
        node, f"PartitionName=cpu Nodes={host} Default=YES MaxTime=INFINITE State=UP",
    ]
    (root / "state").mkdir(parents=True, exist_ok=True)
    (root / "spool").mkdir(parents=True, exist_ok=True)
    conf = root / "slurm.conf"
    conf.write_text("\n".join(lines) + "\n")
    return conf


def _start_munge(root: Path) -> subprocess.Popen:
    key = root / "munge.key"
    key.write_bytes(os.urandom(1024))
    key.chmod(0o400)
    proc = subprocess.Popen(
        ["munged", "--foreground", "--force", f"--key-file={key}", f"--socket={root / 'munge.socket'}",
         f"--pid-file={root / 'munged.pid'}", f"--log-file={root / 'munged.log'}",
         f"--seed-file={root / 'munged.seed'}"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _wait(lambda: (root / "munge.socket").exists(), 15, "munged did not start")
    return proc


def _wait(ready, timeout: float, what: str) -> None:
    end = time.time() + timeout
    while time.time() < end:
        if ready():
            return
        time.sleep(0.3)
    raise RuntimeError(what)


def start(root: str | Path, *, mem_mb: int = 4096) -> SlurmCluster:
    """Stand up munged, slurmctld and slurmd under ``root``; return once the node is idle."""
    root = Path(root).resolve()
    root.mkdir(parents=True, exist_ok=True)
    root.chmod(0o755)
    conf = write_conf(root, mem_mb=mem_mb)
    env = {**os.environ, "SLURM_CONF": str(conf), "PATH": "/usr/sbin:" + os.environ.get("PATH", "/usr/bin")}
    cluster = SlurmCluster(root=root, env=env)
    try:
        cluster.procs["munged"] = _start_munge(root)
        for name in ("slurmctld", "slurmd"):
            cluster.procs[name] = subprocess.Popen([name, "-D", "-f", str(conf)], env=env,
                                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(1.0)

        def idle() -> bool:
            for name, proc in cluster.procs.items():
                if proc.poll() is not None:
                    raise RuntimeError(f"{name} exited ({proc.returncode}):\n{cluster.logs()}")
            out = subprocess.run(["sinfo", "-h", "-o", "%T"], env=env, capture_output=True, text=True)
            return out.stdout.strip() == "idle"

        _wait(idle, 60, "the node did not become idle")
    except BaseException:
        cluster.stop()
        raise
    return cluster


if __name__ == "__main__":  # stand one up by hand
    c = start(sys.argv[1] if len(sys.argv) > 1 else "/tmp/fairdd-slurm")
    print(f"export SLURM_CONF={c.conf}  # stop with: kill {' '.join(str(p.pid) for p in c.procs.values())}")
