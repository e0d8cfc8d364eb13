"""What each SLURM job of a sweep asks for (``Resources``).

Read from a sweep file's ``[resources]`` tables (``fairdd.sweeps.grid``) and used by the runner
(``fairdd.sweeps.run``).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

__all__ = ["Resources"]

_INT_KNOBS = ("gpus_per_task", "cpus_per_task", "cpus_per_gpu", "timeout_min", "signal_delay_s", "max_num_timeout")
_STR_KNOBS = ("partition", "account", "qos", "constraint", "gres", "mem_per_cpu", "mem_per_gpu", "exclude", "nodelist",
              "comment", "mail_user", "mail_type", "dependency", "job_name", "chdir", "python")


@dataclass(frozen=True)
class Resources:
    """What each SLURM job asks for.

    ``None`` means "fit the grid's device" (``resolved``): no GPU flag for a CPU grid, CPUs and memory within the
    partition's nodes, wall time from the device's estimate.

    Saved in the sweep folder (``resources.json``) on the first SLURM run and reused on resume.
    """

    partition: str | None = None  # SLURM partition
    gpus_per_task: int | None = None  # GPUs per job; None: 1 for a GPU grid, none (no flag) for a CPU grid
    cpus_per_task: int | None = None  # None: 8 with a GPU, 4 without, at most a node's CPUs
    mem_gb: float | None = None  # host memory per job; None: 32 GB with a GPU, 8 GB without, at most a node's
    timeout_min: int | None = None  # wall time per job; None = 1.5 × the largest job's estimate + 10 min
    account: str | None = None  # SLURM account
    qos: str | None = None  # SLURM quality of service
    constraint: str | None = None  # SLURM node features, e.g. "h100"
    gres: str | None = None  # generic resources instead of gpus_per_task, e.g. "gpu:a100:1"
    mem_per_cpu: str | None = None  # instead of mem_gb, e.g. "4G"
    mem_per_gpu: str | None = None  # instead of mem_gb, e.g. "40G"
    cpus_per_gpu: int | None = None  # instead of cpus_per_task
    exclude: str | None = None  # nodes to avoid, e.g. "node[01-03]"
    nodelist: str | None = None  # nodes to run on
    comment: str | None = None  # shown by squeue / sacct
    mail_user: str | None = None  # where SLURM mails
    mail_type: str | None = None  # when, e.g. "END,FAIL"
    dependency: str | None = None  # e.g. "afterok:1234"
    exclusive: bool = False  # whole nodes
    job_name: str | None = None  # None: fairdd-<sweep name>
    chdir: str | None = None  # working directory of the jobs; None: the sweep folder
    python: str | None = None  # the nodes' Python (a venv's bin/python, "singularity exec ... python")
    signal_delay_s: int = 120  # SLURM warns the job this long before its time limit
    max_num_timeout: int = 3  # requeues after a time limit (a checkpointing job resumes)
    setup: tuple[str, ...] = ()  # shell lines run before the job (module load ..., conda activate ...)
    srun_args: tuple[str, ...] = ()  # more arguments of the job's srun
    additional: dict = field(default_factory=dict)  # any other sbatch option, name → value (extra lines)

    def __post_init__(self) -> None:
        """Check every knob: integers in range, memory positive, strings non-empty, or ``None``."""
        for name in _INT_KNOBS:
            value = getattr(self, name)
            low = 0 if name in ("gpus_per_task", "signal_delay_s", "max_num_timeout") else 1
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < low):
                raise ValueError(f"{name} must be an integer >= {low} or None; got {value!r}")
        if self.mem_gb is not None and (isinstance(self.mem_gb, bool) or not isinstance(self.mem_gb, (int, float))
                                        or not self.mem_gb > 0):
            raise ValueError(f"mem_gb must be a positive number or None; got {self.mem_gb!r}")
        for name in _STR_KNOBS:
            value = getattr(self, name)
            if value is not None and (not isinstance(value, str) or not value.strip()):
                raise ValueError(f"{name} must be a non-empty string or None; got {value!r}")
        for name in ("setup", "srun_args"):
            value = getattr(self, name)
            if not isinstance(value, (tuple, list)) or not all(isinstance(v, str) for v in value):
                raise TypeError(f"{name} must be a sequence of strings; got {value!r}")
            if name == "setup" and any("\n" in v or "\r" in v for v in value):
                raise ValueError(f"setup lines must be one line each; got {value!r}")
            object.__setattr__(self, name, tuple(value))
        if not isinstance(self.additional, dict):
            raise TypeError(f"additional must be a dict of sbatch options; got {self.additional!r}")

    def to_dict(self) -> dict:
        """Give the fields as JSON-ready values (lists, not tuples)."""
        return {f.name: (list(v) if isinstance(v := getattr(self, f.name), tuple) else v)
                for f in dataclasses.fields(self)}

    @classmethod
    def from_dict(cls, data: dict) -> "Resources":
        """Build ``Resources`` from ``to_dict()``'s output; an unknown field is refused by name."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown resource {unknown}; allowed: {sorted(known)}")
        return cls(**data)

    def changed(self, given: dict) -> tuple["Resources", dict]:
        """Return these resources with ``given`` fields replaced, and {field: (old, new)} of what changed."""
        diff = {k: (getattr(self, k), v) for k, v in given.items() if getattr(self, k) != v}
        return dataclasses.replace(self, **given), diff

    def resolved(self, device: str, node: dict | None = None) -> "Resources":
        """Fill the ``None`` of GPUs, CPUs and memory for ``device`` and the partition's smallest node.

        ``device``: "cpu", "cuda" or "auto"; ``node``: cpus, mem_gb, gpus (from ``sinfo``, None where unknown).
        """
        node = node or {}
        gpus = self.gpus_per_task
        if gpus is None:
            gpus = 0 if device == "cpu" or self.gres or (device == "auto" and not node.get("gpus")) else 1
        cpus = self.cpus_per_task
        if cpus is None and self.cpus_per_gpu is None:
            cpus = min(8 if gpus else 4, node.get("cpus") or 8)
        mem = self.mem_gb
        if mem is None and self.mem_per_cpu is None and self.mem_per_gpu is None:
            mem = min(32 if gpus else 8, node.get("mem_gb") or 32)
        return dataclasses.replace(self, gpus_per_task=gpus, cpus_per_task=cpus, mem_gb=mem)
