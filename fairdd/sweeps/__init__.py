"""Sweeps: a TOML grid of distill + evaluate cells, and the paper's table assembled from them.

The cells run resumably here or on SLURM (submitit).

    sweep = fairdd.sweeps.Sweep("benchmarks/grids/smoke.toml", "results/sweeps/smoke")
    plan = sweep.plan()                           # cells to run and the GPU-hour estimate
    sweep.run(executor="local").wait(progress=True)
    text = fairdd.sweeps.load_table("results/sweeps/smoke").markdown()

Import cost: this package loads neither submitit nor pandas until used.
"""
from .estimate import TIMINGS, CellEstimate, estimate_cell
from .grid import Cell, SweepSpec, load_spec, make_spec, parse_spec
from .run import (EXECUTORS, Plan, Resources, Sweep, SweepRun, SweepStatus, make_executor, preview_script, run_job,
                  sbatch_script, slurm_parameters)
from .store import SweepDir
from .table import SweepTable, load_table

__all__ = ["Sweep", "SweepSpec", "Cell", "load_spec", "parse_spec", "make_spec", "Plan", "Resources", "SweepRun",
           "SweepStatus", "SweepTable", "load_table", "SweepDir", "estimate_cell", "CellEstimate", "TIMINGS",
           "EXECUTORS", "make_executor", "sbatch_script", "preview_script", "slurm_parameters", "run_job"]
