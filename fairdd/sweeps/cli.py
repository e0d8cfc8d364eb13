"""``fairdd sweep run | status | table`` (registered by ``fairdd.cli``; this module prints)."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

__all__ = ["add_parser", "run_cli"]

# flag, Resources field, type ("flag": on/off, "list": repeatable), help
_RESOURCE_FLAGS = (
    ("--slurm-partition", "partition", str, "partition"),
    ("--slurm-account", "account", str, "account"),
    ("--slurm-qos", "qos", str, "quality of service"),
    ("--slurm-constraint", "constraint", str, "node features, e.g. h100"),
    ("--gpus-per-task", "gpus_per_task", int, "GPUs per job (default: 1 for a GPU grid, 0 = no flag for a CPU grid)"),
    ("--cpus-per-task", "cpus_per_task", int, "CPUs per job (default: 8 with a GPU, 4 without, within a node)"),
    ("--mem-gb", "mem_gb", float, "memory per job (default: 32 with a GPU, 8 without, within a node)"),
    ("--timeout-min", "timeout_min", int, "wall time per job (default: 1.5 x the longest job's estimate + 10 min)"),
    ("--gres", "gres", str, "generic resources instead of --gpus-per-task, e.g. gpu:a100:1"),
    ("--mem-per-cpu", "mem_per_cpu", str, "instead of --mem-gb, e.g. 4G"),
    ("--mem-per-gpu", "mem_per_gpu", str, "instead of --mem-gb, e.g. 40G"),
    ("--cpus-per-gpu", "cpus_per_gpu", int, "instead of --cpus-per-task"),
    ("--exclude", "exclude", str, "nodes to avoid"),
    ("--nodelist", "nodelist", str, "nodes to run on"),
    ("--comment", "comment", str, "job comment"),
    ("--mail-user", "mail_user", str, "mail address"),
    ("--mail-type", "mail_type", str, "when to mail, e.g. END,FAIL"),
    ("--dependency", "dependency", str, "e.g. afterok:1234"),
    ("--exclusive", "exclusive", "flag", "whole nodes"),
    ("--job-name", "job_name", str, "default: fairdd-<sweep name>"),
    ("--chdir", "chdir", str, "working directory of the jobs (default: the sweep folder)"),
    ("--python", "python", str, "the nodes' Python, e.g. /path/venv/bin/python (default: this one)"),
    ("--signal-delay-s", "signal_delay_s", int, "warning signal this long before the time limit (default 120)"),
    ("--max-num-timeout", "max_num_timeout", int, "requeues after a time limit (default 3)"),
    ("--setup", "setup", "list", "shell line run first in each job (module load ..., source venv/bin/activate)"),
    ("--srun-arg", "srun_args", "list", "one more argument of the job's srun"),
    ("--sbatch", "additional", "list", "any other sbatch option as KEY=VALUE, e.g. --sbatch reservation=lab"),
)


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
    run.add_argument("--max-parallel", type=int, default=None,
                     help="local: worker processes (default 1); slurm: array tasks at once (default: no limit) "
                          "and the fewest jobs the cells are spread over")
    run.add_argument("--cells-per-job", type=int, default=None,
                     help="slurm: cells per array task (default: spread over --max-parallel jobs of <= --job-hours)")
    run.add_argument("--job-hours", type=float, default=2.0, help="slurm: estimated hours per job at most")
    run.add_argument("--retry-failed", action="store_true", help="also rerun cells that failed or are damaged")
    run.add_argument("--replace-grid", action="store_true",
                     help="make this grid the folder's although it drops cells of the stored one")
    run.add_argument("--max-cells", type=_positive_int, default=None, metavar="N",
                     help="refuse a grid of more than N cells (default 10000, or [sweep] max_cells)")
    run.add_argument("--device", default=None, help="auto | cpu | cuda (default: the sweep file's)")
    run.add_argument("--no-wait", action="store_true", help="local: return after starting the workers")
    run.add_argument("--wait", action="store_true", help="slurm: wait for the jobs (progress bar), then the status")
    run.add_argument("--dry-run", action="store_true",
                     help="print the plan (and the sbatch script, written without SLURM) only")
    knobs = run.add_argument_group("SLURM resources (saved in DIR/resources.json; a resume reuses them, a flag "
                                   "given again changes them)")
    for flag, field, kind, text in _RESOURCE_FLAGS:
        if kind == "flag":
            knobs.add_argument(flag, dest=field, action="store_true", default=None, help=text)
        elif kind == "list":
            knobs.add_argument(flag, dest=field, action="append", default=None, metavar="LINE", help=text)
        else:
            knobs.add_argument(flag, dest=field, type=kind, default=None, help=text)

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
    """Run ``fairdd sweep run | status | table``; without SLURM or submitit, print one line and return 2."""
    try:
        return {"run": _run, "status": _status, "table": _table}[args.sweep_command](args)
    except (RuntimeError, ImportError) as exc:  # no SLURM here, submitit missing
        print(f"error: {exc}", file=sys.stderr)
        return 2


def _given_resources(args) -> dict:
    """Return the resource flags given on this command line, as ``Resources`` fields."""
    given = {}
    for _, field, kind, _ in _RESOURCE_FLAGS:
        value = getattr(args, field, None)
        if value is None:
            continue
        if field == "additional":
            bad = [v for v in value if "=" not in v]
            if bad:
                raise ValueError(f"--sbatch takes KEY=VALUE; got {bad[0]!r}")
            value = dict(v.split("=", 1) for v in value)
        given[field] = tuple(value) if kind == "list" and field != "additional" else value
    return given


def _run(args) -> int:
    from .run import Resources, Sweep

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
    sweep = Sweep(spec, args.dir, replace_grid=args.replace_grid) if args.grid else Sweep.open(args.dir)
    device = args.device or sweep.spec.device
    given = _given_resources(args)
    if args.executor == "slurm":
        before = sweep.resources(save=False)
        resources = sweep.resources(given, save=not args.dry_run)
        changed = {k: (getattr(before, k), v) for k, v in given.items() if getattr(before, k) != v}
        if changed and (Path(args.dir) / "resources.json").is_file():
            print("resources changed: " + ", ".join(f"{k} {a!r} -> {b!r}" for k, (a, b) in changed.items()))
    else:
        resources = Resources().changed(given)[0]
    plan = sweep.plan(retry_failed=args.retry_failed, cells_per_job=args.cells_per_job, job_hours=args.job_hours,
                      max_parallel=args.max_parallel, device=device)
    print(f"sweep {sweep.spec.name!r} in {args.dir}: {plan.summary()}", flush=True)
    if args.executor == "slurm":
        print(f"{len(plan.jobs)} SLURM array task(s) of up to {max(map(len, plan.jobs), default=0)} cells", flush=True)
    if args.dry_run:
        print(plan.breakdown().round(3).to_string(index=False))
        if args.executor == "slurm":
            _preview(args, sweep, plan, resources, device)
        return 0
    if not plan.todo:
        print("nothing to run")
        return 0
    handle = sweep.run(args.executor, max_parallel=args.max_parallel, retry_failed=args.retry_failed,
                       cells_per_job=args.cells_per_job, job_hours=args.job_hours, resources=resources,
                       device=args.device, plan=None if args.executor == "slurm" else plan)
    if handle.jobs:
        print(f"started {len(handle.jobs)} job(s): {', '.join(handle.job_ids[:8])}"
              + (" ..." if len(handle.jobs) > 8 else ""), flush=True)
    elif args.executor == "slurm":
        print("nothing submitted: the cells are queued or running already")
    if (args.executor == "slurm" and not args.wait) or args.no_wait:
        print(f"follow with: fairdd sweep status {args.dir}")
        return 0
    status = handle.wait(progress=True)
    for err in handle.errors:
        print(f"warning: {err}", file=sys.stderr)
    print(status.summary())
    return 0 if status.counts["failed"] + status.counts["damaged"] == 0 else 1


def _preview(args, sweep, plan, resources, device: str) -> None:
    """Print the sbatch script of each array ``sweep.run`` would submit (no SLURM needed)."""
    import dataclasses

    from .run import preview_script, split_parallel
    from .slurm import partition_node

    groups = sweep.job_groups(plan, resources)
    for (res, job_lists), (share, after) in zip(groups, split_parallel([len(g[1]) for g in groups], args.max_parallel)):
        node = partition_node(res.partition)
        res = res.resolved(device, node)
        if after is not None:  # the array's id is known once the earlier one is submitted
            res = dataclasses.replace(res, dependency=",".join(
                d for d in (res.dependency, f"afterany:<array {after + 1}>") if d))
        print(preview_script(res, Path(args.dir) / "jobs", len(job_lists), max_parallel=share,
                             timeout_min=res.timeout_min or sweep._timeout_min(plan, job_lists, node),
                             name=sweep.spec.name, chdir=Path(args.dir).resolve()))


def _status(args) -> int:
    from .run import Sweep

    status = Sweep.open(args.dir).status()
    print(status.summary())
    if status.resources_line():
        print(status.resources_line())
    frame = status.cells
    shown = frame if args.all else frame[frame["state"] != "done"]
    if len(shown):
        cols = ["cell", "state", "job", "worker", "error", "log"]
        cols = [c for c in cols if c in ("cell", "state") or shown[c].astype(bool).any()]
        print(shown[cols].to_string(index=False, max_colwidth=90))
    bad = status.counts["failed"] + status.counts["damaged"]
    if bad:
        print(f"{bad} cell(s) failed or damaged: see the error and the log; rerun them with "
              f"fairdd sweep run --dir {args.dir} --retry-failed", file=sys.stderr)
    return 1 if bad else 0


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
    if table.damaged:
        print(f"warning: {table.damage_note().replace('**', '')}", file=sys.stderr)
    return 1 if table.damaged else 0
