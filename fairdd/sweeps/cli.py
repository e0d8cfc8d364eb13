"""``fairdd sweep run | status | table`` (registered by ``fairdd.cli``; this module prints)."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

__all__ = ["add_parser", "run_cli"]


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Add the ``sweep`` command to ``fairdd``'s subparsers."""
    sweep = subparsers.add_parser("sweep", help="run a grid of cells (TOML) here or on SLURM; status; table")
    sub = sweep.add_subparsers(dest="sweep_command", required=True)

    run = sub.add_parser("run", help="start the cells not yet done (resumable)")
    run.add_argument("grid", nargs="?", default=None, help="sweep file (TOML); default: DIR/sweep.toml")
    run.add_argument("--dir", required=True, help="sweep directory (results, logs, claims)")
    run.add_argument("--executor", default="local", choices=("local", "slurm", "debug", "inline"),
                     help="local: submitit processes here; slurm: a job array; debug: submitit in this process; "
                          "inline: this process, no submitit")
    run.add_argument("--max-parallel", type=int, default=1,
                     help="local: worker processes; slurm: array tasks at once")
    run.add_argument("--cells-per-job", type=int, default=None,
                     help="slurm: cells per array task (default: packed to --job-hours by the estimate)")
    run.add_argument("--job-hours", type=float, default=2.0, help="slurm: estimated hours per job when packing")
    run.add_argument("--retry-failed", action="store_true", help="also rerun cells that failed")
    run.add_argument("--max-cells", type=_positive_int, default=None, metavar="N",
                     help="refuse a grid of more than N cells (default 10000, or [sweep] max_cells)")
    run.add_argument("--device", default=None, help="auto | cpu | cuda (default: the sweep file's)")
    run.add_argument("--no-wait", action="store_true", help="local: return after starting the workers")
    run.add_argument("--dry-run", action="store_true", help="print the plan (and the sbatch script) only")
    run.add_argument("--slurm-partition", default=None)
    run.add_argument("--slurm-account", default=None)
    run.add_argument("--slurm-qos", default=None)
    run.add_argument("--slurm-constraint", default=None)
    run.add_argument("--gpus-per-task", type=int, default=1)
    run.add_argument("--cpus-per-task", type=int, default=8)
    run.add_argument("--mem-gb", type=int, default=32)
    run.add_argument("--timeout-min", type=int, default=None,
                     help="wall time per job (default: 1.5 × the longest job's estimate + 10 min)")
    run.add_argument("--setup", action="append", default=[], metavar="LINE",
                     help="shell line run first in each job (module load ..., source venv/bin/activate)")

    status = sub.add_parser("status", help="done / running / failed / pending per cell; GPU-hours")
    status.add_argument("dir")
    status.add_argument("--all", action="store_true", help="list every cell, not only the unfinished")

    table = sub.add_parser("table", help="print the paper table; write table.md / .tex / .csv into DIR")
    table.add_argument("dir")
    table.add_argument("--format", default="markdown", choices=("markdown", "latex", "csv"),
                       help="what is printed (all three are written)")
    table.add_argument("--rows", nargs="+", default=["method", "target"])
    table.add_argument("--columns", nargs="+", default=None)
    table.add_argument("--out", default=None, help="folder for the files (default: DIR)")
    return sweep


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be an integer >= 1; got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be an integer >= 1; got {text!r}")
    return value


def run_cli(args) -> int:
    try:
        return {"run": _run, "status": _status, "table": _table}[args.sweep_command](args)
    except (RuntimeError, ImportError) as exc:  # no SLURM here, submitit missing
        print(f"error: {exc}", file=sys.stderr)
        return 2


def _run(args) -> int:
    from .run import Resources, Sweep, make_executor, sbatch_script

    if args.executor not in ("local", "slurm", "debug", "inline"):
        raise ValueError(f"unknown executor {args.executor!r}; allowed: ['local', 'slurm', 'debug', 'inline']")
    if args.grid is None and not (Path(args.dir) / "sweep.toml").is_file():
        raise FileNotFoundError(f"{args.dir} holds no sweep.toml: pass the sweep file")
    if args.grid:
        from .grid import MAX_CELLS, grid_size, load_spec

        try:  # the size first, from the axis lengths: a huge grid is refused before it is built
            n, how = grid_size(Path(args.grid).read_text())
            print(f"grid {args.grid}: {n:,} cells ({how})", flush=True)
        except (OSError, ValueError):  # no such file, not TOML: load_spec says so
            pass
        spec = load_spec(args.grid, max_cells=args.max_cells or MAX_CELLS)
    sweep = Sweep(spec, args.dir) if args.grid else Sweep.open(args.dir)
    resources = Resources(partition=args.slurm_partition, account=args.slurm_account, qos=args.slurm_qos,
                          constraint=args.slurm_constraint, gpus_per_task=args.gpus_per_task,
                          cpus_per_task=args.cpus_per_task, mem_gb=args.mem_gb, timeout_min=args.timeout_min,
                          setup=tuple(args.setup))
    plan = sweep.plan(retry_failed=args.retry_failed, cells_per_job=args.cells_per_job, job_hours=args.job_hours)
    print(f"sweep {sweep.spec.name!r} in {args.dir}: {plan.summary()}", flush=True)
    if args.executor == "slurm":
        print(f"{len(plan.jobs)} SLURM array task(s) of up to {max(map(len, plan.jobs), default=0)} cells", flush=True)
    if args.dry_run:
        print(plan.breakdown().round(3).to_string(index=False))
        if args.executor == "slurm" and plan.jobs:
            ex = make_executor("slurm", Path(args.dir) / "jobs", resources=resources,
                               max_parallel=args.max_parallel,
                               timeout_min=args.timeout_min or sweep._timeout_min(plan, plan.jobs))
            print(sbatch_script(ex, len(plan.jobs)))
        return 0
    if not plan.todo:
        print("nothing to run")
        return 0
    handle = sweep.run(args.executor, max_parallel=args.max_parallel, retry_failed=args.retry_failed,
                       resources=resources, device=args.device, plan=plan)
    if handle.jobs:
        print(f"started {len(handle.jobs)} job(s): {', '.join(handle.job_ids[:8])}"
              + (" ..." if len(handle.jobs) > 8 else ""), flush=True)
    if args.executor == "slurm" or args.no_wait:
        print(f"follow with: fairdd sweep status {args.dir}")
        return 0
    status = handle.wait(progress=True)
    for err in handle.errors:
        print(f"warning: {err}", file=sys.stderr)
    print(status.summary())
    return 0 if status.counts["failed"] == 0 else 1


def _status(args) -> int:
    from .run import Sweep

    status = Sweep.open(args.dir).status()
    print(status.summary())
    frame = status.cells
    shown = frame if args.all else frame[frame["state"] != "done"]
    if len(shown):
        cols = ["cell", "state", "worker", "error"]
        print(shown[cols].to_string(index=False, max_colwidth=90))
    return 0


def _table(args) -> int:
    from .table import load_table

    if args.format not in ("markdown", "latex", "csv"):
        raise ValueError(f"unknown format {args.format!r}; allowed: ['markdown', 'latex', 'csv']")
    table = load_table(args.dir, rows=args.rows, columns=args.columns)
    paths = table.save(args.out or args.dir)
    text = {"markdown": table.markdown, "latex": table.latex,
            "csv": lambda: table.summary.to_csv(index=False)}[args.format]()
    sys.stdout.write(text)
    print(f"wrote {', '.join(str(p) for p in paths)}")
    return 0
