"""Command line: ``fairdd demo | distill | evaluate | reproduce | datasets | sweep``. The only module that prints.

Expected errors (bad values, missing or existing files, no CUDA) end as one line on stderr and
exit code 2; progress bars appear only on a terminal (not when piped, nor under ``CI=true``).
"""
from __future__ import annotations

import argparse
import os
import sys
import time
import warnings
from pathlib import Path

from .sweeps import cli as sweep_cli

__all__ = ["main", "build_parser"]


EXAMPLES = """\
examples:
  fairdd demo --preset smoke                      # every target on colored-mnist, a table (seconds)
  fairdd demo                                     # the demo preset: about 4 minutes on 2 CPU cores
  fairdd distill --dataset colored-digits --target cobra --ipc 10 --preset demo --out results/cobra
  fairdd evaluate results/cobra --preset demo     # test set rebuilt from the result's record
  fairdd reproduce colored-fashion-mnist --download --preset demo --out results/rep
  fairdd reproduce cifar10-s --root ~/data --skew 0.9 --ipc 100 --out results/rep-c10s   # COBRA's CIFAR10-S
  fairdd distill --dataset utkface --root ~/data --group gender --preset demo --out results/utk
  fairdd datasets --root ~/data                   # every dataset: here or not (and why), its knobs
  fairdd datasets describe folder:PATH --label y --group place --ipc 10   # your own data's card
  fairdd distill --dataset folder:PATH --metadata metadata.csv --label y --group place --preset smoke --out r
  fairdd sweep run benchmarks/grids/smoke.toml --dir results/sweeps/smoke --executor local
  fairdd sweep table results/sweeps/smoke --format latex

dataset knobs (--mode, --bias, --severity, --skew, --style, --group, --label-attr, --n-groups, --size,
--format; for folder:PATH also --metadata, --image-column, --label, --split-column, --split-values,
--test-per-cell) reach only the datasets that take them; one given to a dataset without it is an error.
"""


def _is_terminal() -> bool:
    """Progress bars only for a person watching: stderr is a terminal and not under CI."""
    ci = os.environ.get("CI", "").lower() not in ("", "0", "false", "no")
    return sys.stderr.isatty() and not ci


def _value(text: str):
    """A ``--set`` value: an int, a float, true/false, a list ``[1, 0.5, 2]`` of those, or the text itself."""
    if text.startswith("[") and text.endswith("]"):  # group_weights=[1,1,0,2], lr_img_halvings=[1200,1600]
        return [_value(item.strip()) for item in text[1:-1].split(",") if item.strip()]
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return {"true": True, "false": False}.get(text.lower(), text)


def _overrides(pairs: list[str], flag: str = "--set", flags: dict | None = None) -> dict:
    """``KEY=VALUE`` pairs as a dict; refuses keys that have their own flag (``--set seed=3``)."""
    out = {}
    for pair in pairs or []:
        if "=" not in pair:
            raise ValueError(f"{flag} expects KEY=VALUE; got {pair!r}")
        key, val = pair.split("=", 1)
        key = key.strip()
        if flags and key in flags:
            raise ValueError(f"{flag} {pair}: {key!r} has its own flag; use {flags[key]} instead")
        out[key] = _value(val.strip())
    return out


def _flags(parser: argparse.ArgumentParser) -> dict:
    """dest → option string of every flag of ``parser`` (to refuse ``--set`` keys that are flags)."""
    return {a.dest: a.option_strings[0] for a in parser._actions if a.option_strings}


def _choices():
    from fairdd.config import METHODS, PRESETS
    from fairdd.data import DATASETS
    from fairdd.targets import STRATEGIES

    return DATASETS, METHODS, PRESETS, tuple(STRATEGIES)


# dataset knob → its flag; every one defaults to None: "the dataset's own default"
KNOB_FLAGS = {"mode": "--mode", "bias": "--bias", "severity": "--severity", "skew": "--skew", "style": "--style",
              "group": "--group", "target": "--label-attr", "n_groups": "--n-groups", "size": "--size",
              "format": "--format", "metadata": "--metadata", "image": "--image-column", "label": "--label",
              "split_column": "--split-column", "split_values": "--split-values", "test_per_cell": "--test-per-cell",
              "missing_groups": "--missing-groups"}
_FOLDER_FLAGS = ("metadata", "image", "label", "group", "split_column", "split_values", "size", "test_per_cell",
                 "missing_groups")  # the flags folder:PATH takes, as `fairdd datasets` lists them


def _add_knob_args(p: argparse.ArgumentParser, *, from_record: str = "") -> None:
    """The dataset construction knobs (``fairdd.datasets.options``); each reaches only datasets that take it."""
    p.add_argument("--mode", default=None, choices=("foreground", "background"),
                   help="colored-*: paint the digit or the background (default foreground)" + from_record)
    p.add_argument("--bias", type=float, default=None,
                   help="colored-*: share of a class's own colour in training, (0, 1] (default 0.9)")
    p.add_argument("--severity", type=int, default=None, choices=range(6), metavar="{0..5}",
                   help="separation corruption (colored-*: minority groups, default 0; cifar10-s: App. F on "
                        "group 0, default none = grayscale)" + from_record)
    p.add_argument("--skew", type=float, default=None,
                   help="cifar10-s: share of classes 0-4 in group 0 (and 5-9 in colour), [0, 1] (default 0.9)"
                        + from_record)
    p.add_argument("--style", default=None, choices=("official", "clean"),
                   help="colored-*: the papers' images or fairdd's construction (default: official for "
                        "MNIST / Fashion-MNIST, clean for colored-digits)" + from_record)
    p.add_argument("--group", default=None,
                   help="utkface: race | gender (default race); celeba: the group attribute (default Male)"
                        + from_record)
    p.add_argument("--label-attr", dest="target_attr", default=None, metavar="ATTR",
                   help="celeba: the attribute to predict (default Attractive)" + from_record)
    p.add_argument("--n-groups", type=int, default=None, help="colored-*: colour palette size, 2-10 (default 10)"
                   + from_record)
    p.add_argument("--size", type=int, default=None, help="colored-*: image side in pixels (default 32)"
                   + from_record)
    p.add_argument("--format", default=None, choices=("auto", "python", "binary"),
                   help="cifar10-s: which CIFAR-10 batches to read (default auto)")
    p.add_argument("--knob", action="append", default=None, metavar="KEY=VALUE",
                   help="any other knob of the dataset's loader (fairdd.datasets.options), e.g. one of a dataset "
                        "registered with fairdd.datasets.register")
    own = p.add_argument_group("your own data (--dataset folder:PATH; fairdd.datasets.from_folder)")
    own.add_argument("--metadata", default=None, help="the table of images under PATH (default metadata.csv)")
    own.add_argument("--image-column", dest="image", default=None, help="its column of image paths "
                     "(default img_filename)")
    own.add_argument("--label", default=None, help="its column of classes (default y; 'none': each image's "
                     "first folder)")
    own.add_argument("--split-column", default=None, help="its column of splits (default split; 'none': no "
                     "column, a balanced test set is drawn)")
    own.add_argument("--split-values", default=None, type=_split_values, metavar="NAME=VALUE,...",
                     help="split names for the column's values (default train=0,val=1,test=2)")
    own.add_argument("--test-per-cell", type=int, default=None,
                     help="test images per (class, group) cell when a test set is drawn")
    own.add_argument("--missing-groups", default=None, choices=("keep", "infer"),
                     help="images without a group: keep them unknown (default) or give them pseudo-groups")


def _split_values(text: str) -> dict:
    """``train=0,test=2`` → ``{"train": 0, "test": 2}`` (argparse type)."""
    pairs = [p for p in text.split(",") if p.strip()]
    if not pairs or any("=" not in p for p in pairs):
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE,... (e.g. train=0,test=2); got {text!r}")
    return {k.strip(): _value(v.strip()) for k, v in (p.split("=", 1) for p in pairs)}


def _dataset_name(text: str) -> str:
    """A dataset name or folder:PATH (argparse type: an unknown name is one clear line)."""
    from fairdd.data.registry import check_name

    try:
        return check_name(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


def _add_data_args(p: argparse.ArgumentParser, *, defaults: bool = True) -> None:
    datasets, _, _, _ = _choices()
    d = (lambda v: v) if defaults else (lambda v: None)
    from_record = "" if defaults else " (default: the result's record)"
    p.add_argument("--dataset", default=d("colored-mnist-5k"), type=_dataset_name, metavar="NAME",
                   help=f"dataset: {', '.join(datasets)}, or folder:PATH for your own images and metadata table"
                        + from_record)
    _add_knob_args(p, from_record=from_record)
    p.add_argument("--root", default=None, help="folder with the dataset's files (or $FAIRDD_DATA)")
    p.add_argument("--cache-dir", default=None,
                   help="where decoded file datasets are cached (default $FAIRDD_CACHE, else ~/.cache/fairdd)")
    p.add_argument("--download", action="store_true",
                   help=f"download missing dataset files (only {', '.join(_downloadable())})")
    p.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N")
    p.add_argument("--seed", type=int, default=d(0),
                   help="run seed: initialisation, batches, evaluation models (never the data)")
    _add_data_seed_arg(p, from_record=from_record)


def _add_data_seed_arg(p: argparse.ArgumentParser, *, from_record: str = "") -> None:
    p.add_argument("--data-seed", type=int, default=None,
                   help="the data draw (colour assignment, splits, corruption noise); default: the authors' draw"
                        + from_record)


def _knobs(args, split: str = "train") -> dict:
    """The dataset knobs the user gave (flags not given are left to the dataset); a knob that
    ``args.dataset`` does not take is a ``ValueError`` naming the flag and the knobs it takes."""
    import fairdd

    given = {k: getattr(args, "target_attr" if k == "target" else k) for k in KNOB_FLAGS}
    given = {k: v for k, v in given.items() if v is not None}
    for text in getattr(args, "knob", None) or ():
        key, eq, value = text.partition("=")
        if not eq or not key.strip():
            raise ValueError(f"--knob takes KEY=VALUE (e.g. --knob bias=0.8); got {text!r}")
        given[key.strip()] = _value(value.strip())
    for key in ("split_column", "label"):  # folder:PATH: no split column (a test set is drawn), class = folder
        if isinstance(given.get(key), str) and given[key].lower() == "none":
            given[key] = None
    allowed = fairdd.datasets.options(args.dataset)
    for key, value in given.items():
        if key not in allowed:
            takes = [KNOB_FLAGS[k] for k in allowed if k in KNOB_FLAGS]
            raise ValueError(f"{KNOB_FLAGS.get(key, '--knob ' + key)} {value!r} does not apply to dataset "
                             f"{args.dataset!r}; " + (f"it takes: {takes}" if takes else "it takes none of the "
                                                      "dataset flags") + f" (its knobs: {list(allowed)})")
    return given if split == "train" else fairdd.datasets.test_knobs(args.dataset, given)


def _load(args, split: str, **record):
    """Load ``args.dataset``'s ``split`` with the data flags it takes (``fairdd.datasets.options``)."""
    import fairdd

    allowed = fairdd.datasets.options(args.dataset)
    knobs = {**record, **_knobs(args, split)}
    _check_data_seed(args)
    extra = dict(seed=args.data_seed, root=args.root, download=_download(args), cache_dir=args.cache_dir)
    knobs.update({k: v for k, v in extra.items() if k in allowed and v is not None and v is not False})
    return fairdd.datasets.load(args.dataset, split=split, **knobs)


def _check_data_seed(args) -> None:
    import fairdd

    if args.data_seed is not None and "seed" not in fairdd.datasets.options(args.dataset):
        raise ValueError(f"--data-seed {args.data_seed} does not apply to dataset {args.dataset!r}: "
                         "its split is fixed")


def _downloadable() -> tuple[str, ...]:
    """The datasets whose files fairdd can fetch (``--download``), read from their records."""
    from fairdd.data.record import records

    return tuple(r.name for r in records() if r.downloadable)


def _download(args) -> bool:
    if args.download and args.dataset not in _downloadable():
        raise ValueError(f"--download applies to {list(_downloadable())}; {args.dataset!r} is built in")
    return bool(args.download)


def _add_reproduce_parser(sub, fmt) -> None:
    datasets, methods, presets, targets = _choices()
    rep = sub.add_parser("reproduce", help="run the published protocol for vanilla, fairdd, cobra and the "
                                           "random-subset baseline; write a results table", formatter_class=fmt,
                         epilog="example:\n  fairdd reproduce colored-digits --preset smoke --out results/rep")
    rep.add_argument("dataset", choices=datasets)
    _add_knob_args(rep)
    rep.add_argument("--method", default="dm", choices=methods)
    rep.add_argument("--ipc", type=int, default=10)
    rep.add_argument("--preset", default="paper", choices=presets)
    rep.add_argument("--n-models", type=int, default=None,
                     help="evaluation models (default: the preset's for the method)")
    rep.add_argument("--targets", nargs="+", default=["random", "vanilla", "fairdd", "cobra"],
                     choices=("random",) + targets)
    rep.add_argument("--root", default=None)
    rep.add_argument("--download", action="store_true",
                     help=f"download missing dataset files (only {', '.join(_downloadable())})")
    rep.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N")
    rep.add_argument("--seed", type=int, default=0, help="run seed (never the data)")
    _add_data_seed_arg(rep)
    rep.add_argument("--out", default=None,
                     help="sweep folder: one folder per target under cells/, table.md, table.tex (resumable)")
    rep.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a DistillConfig field")
    rep.add_argument("--eval-set", action="append", metavar="KEY=VALUE",
                     help="override an EvalConfig field (e.g. compile=true, precision=bf16)")


def build_parser() -> argparse.ArgumentParser:
    from fairdd import __version__

    _, methods, presets, targets = _choices()
    fmt = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(prog="fairdd", description="Fair dataset distillation toolkit.",
                                     epilog=EXAMPLES, formatter_class=fmt)
    parser.add_argument("--version", action="version", version=f"fairdd {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    demo = sub.add_parser("demo", help="distil colored-mnist with every target, evaluate, print a table",
                          formatter_class=fmt, epilog="example:\n  fairdd demo --preset smoke --dataset colored-digits")
    _add_data_args(demo)
    demo.add_argument("--preset", default="demo", choices=presets,
                      help="paper (COBRA's protocol) | fairdd-paper | demo | smoke")
    demo.add_argument("--ipc", type=int, default=10)
    demo.add_argument("--n-models", type=int, default=None, help="evaluation models per strategy")
    demo.add_argument("--out", default="results/demo",
                      help="folder for metrics and one result per strategy (the demo replaces its own results)")

    dist = sub.add_parser("distill", help="distil a dataset and save the result folder", formatter_class=fmt,
                          epilog="example:\n  fairdd distill --dataset colored-digits --target cobra --preset demo "
                                 "--out results/cobra")
    _add_data_args(dist)
    dist.add_argument("--method", default="dm", choices=methods)
    dist.add_argument("--target", default="cobra", choices=targets)
    dist.add_argument("--ipc", type=int, default=10)
    dist.add_argument("--preset", default="paper", choices=presets,
                      help="paper: COBRA's protocol (hours on a CPU); fairdd-paper: FairDD's; demo: minutes; "
                           "smoke: seconds")
    dist.add_argument("--out", required=True, help="result folder to write")
    dist.add_argument("--overwrite", action="store_true", help="replace --out if it holds a fairdd result")
    dist.add_argument("--checkpoint", default=None, help="checkpoint file (resumable)")
    dist.add_argument("--resume", default=None, help="checkpoint to continue from")
    dist.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a DistillConfig field")

    _add_reproduce_parser(sub, fmt)

    ev = sub.add_parser("evaluate", help="evaluate a saved result on the balanced test set", formatter_class=fmt,
                        epilog="example:\n  fairdd evaluate results/cobra --preset demo --out report.json")
    _add_data_args(ev, defaults=False)
    ev.add_argument("result", help="result folder written by 'fairdd distill'")
    ev.add_argument("--preset", default="paper", choices=presets)
    ev.add_argument("--n-models", type=int, default=None,
                    help="evaluation models (default: the preset's for the method)")
    ev.add_argument("--out", default=None, help="write the report as JSON here")
    ev.add_argument("--any-test-set", action="store_true",
                    help="evaluate even if the test set was not built like the result's training set")
    ev.add_argument("--set", action="append", metavar="KEY=VALUE", help="override an EvalConfig field")
    _add_datasets_parser(sub, fmt)
    sweep_cli.add_parser(sub)  # fairdd sweep run | status | table
    return parser


def _add_datasets_parser(sub, fmt) -> None:
    """``fairdd datasets [describe NAME]``: the list of datasets, or one dataset's card."""
    ds = sub.add_parser("datasets", help="list every dataset: whether its files are here (and why not), its knobs; "
                                         "'describe NAME' prints a dataset's card", formatter_class=fmt,
                        epilog="examples:\n  fairdd datasets --root ~/data\n  fairdd datasets describe "
                               "folder:PATH --label y --group place --ipc 10")
    ds.add_argument("action", nargs="?", default="list", choices=("list", "describe"),
                    help="list (default): every dataset; describe: one dataset's card (counts, imbalance, the test "
                         "set's EOD noise floor, problems)")
    ds.add_argument("dataset", nargs="?", default=None, type=_dataset_name, help="the dataset to describe")
    ds.add_argument("--ipc", type=int, default=None, help="describe: flag training cells with fewer images")
    _add_data_seed_arg(ds)
    ds.add_argument("--cache-dir", default=None,
                    help="where decoded file datasets are cached (default $FAIRDD_CACHE, else ~/.cache/fairdd)")
    ds.add_argument("--download", action="store_true", help=argparse.SUPPRESS)
    _add_knob_args(ds)
    ds.add_argument("--root", default=None, help="folder with the datasets' files (default $FAIRDD_DATA)")


def _note(text: str) -> None:
    print(f"fairdd: {text}", file=sys.stderr, flush=True)


def _paper_timer(args, iterations: int, first: int = 3):
    """A callback that, after ``first`` timed iterations, says how long the whole run should take."""
    state = {"t0": None, "n": 0}

    def cb(run, info) -> None:
        state["n"] += 1
        if state["n"] == 1:  # the first step pays warm-up: time the next ones
            state["t0"] = time.perf_counter()
        elif state["n"] == first + 1:
            per = (time.perf_counter() - state["t0"]) / first
            left = per * (iterations - info.iteration)
            _note(f"paper protocol: {iterations} iterations of {run.config.method}/{run.config.target} at "
                  f"{per:.2f} s each on {run.device} → about {_duration(left)} more (--preset demo takes minutes)")

    return cb


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def run_demo(args) -> int:
    import torch

    import fairdd
    from fairdd.config import eval_config
    from fairdd.experiments import demo
    from fairdd.ownership import check_output
    from fairdd.viz.paper import metrics_chart

    out = demo.check_outputs(args.out)  # before any work (run checks them again)
    chart = check_output(out / "metrics.png", kind="file", what="metrics chart")
    t_start = time.perf_counter()
    train, test = _load(args, "train"), _load(args, "test")
    knobs = ("mode", fairdd.datasets.imbalance_knob(args.dataset, strict=False))
    how = ", ".join(f"{k} {train.info[k]}" for k in knobs if k is not None and train.info.get(k) is not None)
    # the preset's own evaluation protocol for DM sets (every preset the parser accepts has one)
    n_models = args.n_models if args.n_models is not None else eval_config(preset=args.preset).n_models
    print(f"fairdd demo: {args.dataset} ({how}), {len(train)} train / {len(test)} test, "
          f"{train.n_groups} colour groups, IPC {args.ipc}, preset {args.preset!r}, {n_models} eval models, "
          f"device {args.device}", flush=True)
    result = demo.run(train, test, ipc=args.ipc, preset=args.preset, n_models=n_models, seed=args.seed,
                      device=args.device, out=out, callbacks=_print_demo_row)
    metrics_chart(chart, result.metrics())
    print()
    print(result.table())
    print(f"\nwrote {out}/metrics.json, {out}/metrics.png and a grid.png per strategy "
          f"({time.perf_counter() - t_start:.0f} s in all; torch threads {torch.get_num_threads()})")
    return 0


def _print_demo_row(row) -> None:
    r = row.report
    print(f"  {row.name:8s} acc {r.shown('accuracy', '6.2f')}  EOD {r.shown('eod', '6.2f')}  "
          f"DEO_A {r.shown('deo_a', '6.2f')}  worst {r.shown('worst_group_accuracy', '6.2f')}  "
          f"({row.seconds:.0f} s)", flush=True)


def run_distill(args) -> int:
    import fairdd
    from fairdd.config import distill_config
    from fairdd.ownership import check_output
    from fairdd.results import check_result_target

    overrides = _overrides(args.set, flags=_flags(args.parser))
    check_result_target(args.out, overwrite=args.overwrite)  # outputs first: no work thrown away late
    check_output(args.out, kind="folder", what="result folder")
    if args.checkpoint and not (args.resume and Path(args.resume).resolve() == Path(args.checkpoint).resolve()):
        check_output(args.checkpoint, kind="file", what="checkpoint")  # a resumed checkpoint is checked on reading
    train = _load(args, "train")
    if args.dataset.startswith("folder:"):  # your own data: say what the card finds before hours of work
        for problem in fairdd.datasets.describe(train, ipc=args.ipc).problems:
            _note(problem)
    config = distill_config(method=args.method, target=args.target, ipc=args.ipc, preset=args.preset,
                            seed=args.seed, dataset=args.dataset, **overrides)  # the record sets IDC's factor
    callbacks = []
    if args.preset == "paper":  # one line, once the first steps are timed
        callbacks.append(_paper_timer(args, config.iterations))
        if config.iterations <= 4:
            _note(f"paper protocol: {config.iterations} iterations of {config.method}/{config.target}")
    t0 = time.perf_counter()
    result = fairdd.distill(train, method=args.method, target=args.target, ipc=args.ipc, preset=args.preset,
                            seed=args.seed, device=args.device, checkpoint=args.checkpoint, resume=args.resume,
                            progress=_is_terminal(), callbacks=callbacks, **overrides)
    result.save(args.out, overwrite=args.overwrite)
    print(f"distilled {len(result.labels)} images in {time.perf_counter() - t0:.1f} s → {args.out}")
    return 0


def _test_set(args, result):
    """The test set matching ``result``'s training data (``fairdd.datasets.test_set_for``), with the flags given."""
    import fairdd

    given, recorded = args.dataset, (result.dataset.get("info") or {}).get("name")
    args.dataset = given or recorded
    if args.dataset is None:
        raise ValueError(f"{args.result} records no dataset it was built from; pass --dataset")
    knobs = _knobs(args, "test")  # checks every flag applies to the dataset
    _check_data_seed(args)
    allowed = fairdd.datasets.options(args.dataset)
    extra = dict(root=args.root, download=_download(args), cache_dir=args.cache_dir)
    knobs.update({k: v for k, v in extra.items() if k in allowed and v is not None and v is not False})
    return fairdd.datasets.test_set_for(result, dataset=given, data_seed=args.data_seed, **knobs)


def run_evaluate(args) -> int:
    import fairdd
    from fairdd.ownership import check_output

    overrides = _overrides(args.set, flags=_flags(args.parser))
    if args.out:
        check_output(args.out, kind="file", what="report")
    result = fairdd.load_result(args.result)
    args.seed = 0 if args.seed is None else args.seed
    test = _test_set(args, result)
    if args.preset == "paper":
        paper = fairdd.eval_config(preset="paper", method=result.config.get("method", "dm"), **overrides)
        _note(f"paper protocol: {args.n_models or paper.n_models} models × {paper.epochs} "
              "epochs (--preset demo takes minutes)")
    report = fairdd.evaluate(result, test, n_models=args.n_models, preset=args.preset, seed=args.seed,
                             device=args.device, progress=_is_terminal(), check_dataset=not args.any_test_set,
                             **overrides)
    print(report.summary())
    print(report.by_group.to_string(index=False))
    if args.out:
        report.save(args.out)
    return 0


def run_datasets(args) -> int:
    """One line per dataset: available or the loader's reason, and the flags it takes; or one dataset's card."""
    import fairdd

    if args.action == "describe":
        if args.dataset is None:
            raise ValueError("fairdd datasets describe needs a dataset: a name or folder:PATH")
        train, test = _load(args, "train"), _load(args, "test")
        print(fairdd.datasets.describe(train, test, ipc=args.ipc))
        return 0
    if args.dataset is not None:
        raise ValueError(f"fairdd datasets takes a dataset only after 'describe'; got {args.dataset!r}")
    for name in fairdd.datasets.DATASETS:
        takes = fairdd.datasets.options(name)
        knobs = {"root": args.root} if args.root is not None and "root" in takes else {}
        avail = fairdd.datasets.availability(name, **knobs)
        flags = " ".join(KNOB_FLAGS[k] for k in takes if k in KNOB_FLAGS) or "-"
        print(f"{name:22s} {'available' if avail.available else 'missing':9s}  flags: {flags}")
        if not avail.available:
            print(f"{'':22s} {_one_line(Exception(avail.reason))}")
    print(f"\n  your own data: --dataset folder:PATH (flags: {' '.join(KNOB_FLAGS[k] for k in _FOLDER_FLAGS)}); "
          "its card: fairdd datasets describe folder:PATH")
    return 0


def run_reproduce(args) -> int:
    from fairdd.experiments import reproduce
    from fairdd.experiments.reproduce import check_tables, protocol_summary, reproduce_markdown

    mode = f"-{args.mode}" if args.mode else ""
    out = Path(args.out or f"results/reproduce/{args.dataset}{mode}-{args.method}-ipc{args.ipc}-{args.preset}")
    flags = _flags(args.parser)
    overrides = _overrides(args.set, flags=flags)
    eval_overrides = _overrides(args.eval_set, "--eval-set", flags=flags)
    data = _knobs(args)
    data.pop("mode", None)
    check_tables(out)  # before any work (reproduce checks again): a user's file there is never replaced
    _download(args)
    if args.preset == "paper":
        runs = protocol_summary(method=args.method, ipc=args.ipc, targets=args.targets, preset="paper",
                                n_models=args.n_models, eval_overrides=eval_overrides, **overrides)
        _note(f"paper protocol: {runs}; hours on a CPU (--preset demo takes minutes)")
    t0 = time.perf_counter()
    table = reproduce(dataset=args.dataset, mode=args.mode, method=args.method, ipc=args.ipc, targets=args.targets,
                      preset=args.preset, n_models=args.n_models, seed=args.seed, data_seed=args.data_seed,
                      device=args.device, out=out, root=args.root, download=args.download,
                      callback=_print_reproduce_row, data=data, eval_overrides=eval_overrides, **overrides)
    print()
    print(reproduce_markdown(table))
    print(f"\nwall time {time.perf_counter() - t0:.0f} s; wrote {out}/table.md, table.tex (one folder per target "
          f"under {out}/cells; 'fairdd sweep status {out}')")
    return 0


def _print_reproduce_row(row: dict) -> None:
    from fairdd.report import shown

    beside = (row["published_source"] if row["published_accuracy"] != row["published_accuracy"]  # NaN: none
              else f"published {row['published_accuracy']:.2f} / {row['published_eod']:.2f}, "
                   f"{row['published_source']}")
    eod = shown(row["eod"], row["undefined"].get("eod"), "6.2f")  # "undefined (<why>)" when not measured
    print(f"  {row['target']:8s} acc {row['accuracy']:6.2f} ± {row['accuracy_std']:.2f}  EOD {eod}  "
          f"{row['distill_s']:.0f} s + {row['eval_s']:.0f} s eval  ({beside})", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    args.parser = parser._subparsers._group_actions[0].choices[args.command]
    with warnings.catch_warnings():
        warnings.showwarning = _show_warning  # one line each (a damaged cache, a cache that cannot be written)
        return _dispatch(args)


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    print(f"warning: {_one_line(message) if isinstance(message, BaseException) else message}", file=sys.stderr)


def _dispatch(args) -> int:
    try:
        return {"demo": run_demo, "distill": run_distill, "evaluate": run_evaluate,
                "reproduce": run_reproduce, "datasets": run_datasets, "sweep": sweep_cli.run_cli}[args.command](args)
    except (ValueError, OSError) as exc:  # FileNotFoundError, FileExistsError, PermissionError ... are OSErrors
        print(f"error: {_one_line(exc)}", file=sys.stderr)
        return 2
    except (MemoryError, RuntimeError) as exc:
        if not isinstance(exc, MemoryError) and not any(k in str(exc) for k in ("out of memory", "allocate")):
            raise
        print(f"error: out of memory ({_one_line(exc)[:200]}); ask for less (ipc, width, batch sizes)",
              file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if not isinstance(exc, OSError) or exc.strerror is None or exc.filename is None \
        else f"{exc.strerror}: {exc.filename}"


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
