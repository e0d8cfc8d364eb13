"""Command line: ``fairdd demo | distill | evaluate``. The only module that prints."""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

__all__ = ["main"]

DEMO_TARGETS = ("vanilla", "uniform", "fairdd", "cobra")


def _value(text: str):
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return {"true": True, "false": False}.get(text.lower(), text)


def _overrides(pairs: list[str], flag: str = "--set") -> dict:
    out = {}
    for pair in pairs or []:
        if "=" not in pair:
            raise SystemExit(f"error: {flag} expects KEY=VALUE; got {pair!r}")
        key, val = pair.split("=", 1)
        out[key.strip()] = _value(val.strip())
    return out


def _add_data_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--dataset", default="colored-mnist", help="colored-mnist | colored-fashion-mnist | colored-digits")
    p.add_argument("--mode", default="foreground", help="foreground | background")
    p.add_argument("--bias", type=float, default=0.9, help="share of a class's own colour in training (0, 1]")
    p.add_argument("--severity", type=int, default=0, help="separation corruption on minority groups, 0-5")
    p.add_argument("--root", default=None, help="folder with dataset files (Fashion-MNIST IDX)")
    p.add_argument("--device", default="auto", help="auto | cpu | cuda")
    p.add_argument("--seed", type=int, default=0)


def _load(args, split: str):
    import fairdd

    return fairdd.datasets.load(args.dataset, split=split, mode=args.mode, bias=args.bias,
                                severity=args.severity, seed=args.seed, root=args.root)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="fairdd", description="Fair dataset distillation toolkit.")
    sub = parser.add_subparsers(dest="command", required=True)

    demo = sub.add_parser("demo", help="distil colored-mnist with every target, evaluate, print a table")
    _add_data_args(demo)
    demo.add_argument("--preset", default="demo", help="paper (COBRA's protocol) | fairdd-paper | demo | smoke")
    demo.add_argument("--ipc", type=int, default=10)
    demo.add_argument("--n-models", type=int, default=None, help="evaluation models per strategy")
    demo.add_argument("--out", default="results/demo")

    dist = sub.add_parser("distill", help="distil a dataset and save the result folder")
    _add_data_args(dist)
    dist.add_argument("--method", default="dm")
    dist.add_argument("--target", default="cobra", help="vanilla | uniform | fairdd | cobra")
    dist.add_argument("--ipc", type=int, default=10)
    dist.add_argument("--preset", default="paper", help="paper (COBRA's protocol) | fairdd-paper | demo | smoke")
    dist.add_argument("--out", required=True, help="result folder to write")
    dist.add_argument("--checkpoint", default=None, help="checkpoint file (resumable)")
    dist.add_argument("--resume", default=None, help="checkpoint to continue from")
    dist.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a DistillConfig field")

    rep = sub.add_parser("reproduce", help="run the published protocol for vanilla, fairdd, cobra and the "
                                           "random-subset baseline; write a results table")
    rep.add_argument("dataset", help="colored-fashion-mnist | colored-mnist | colored-digits")
    rep.add_argument("--mode", default="foreground")
    rep.add_argument("--method", default="dm")
    rep.add_argument("--ipc", type=int, default=10)
    rep.add_argument("--preset", default="paper")
    rep.add_argument("--n-models", type=int, default=None, help="evaluation models (default: the preset's for the method)")
    rep.add_argument("--targets", nargs="+", default=["random", "vanilla", "fairdd", "cobra"])
    rep.add_argument("--root", default=None)
    rep.add_argument("--device", default="auto")
    rep.add_argument("--seed", type=int, default=0)
    rep.add_argument("--out", default=None, help="folder for rows.json, table.md, table.tex (resumable)")
    rep.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a DistillConfig field")
    rep.add_argument("--eval-set", action="append", metavar="KEY=VALUE",
                     help="override an EvalConfig field (e.g. compile=true, precision=bf16)")

    ev = sub.add_parser("evaluate", help="evaluate a saved result on the balanced test set")
    _add_data_args(ev)
    ev.add_argument("result", help="result folder written by 'fairdd distill'")
    ev.add_argument("--preset", default="paper")
    ev.add_argument("--n-models", type=int, default=None, help="evaluation models (default: the preset's for the method)")
    ev.add_argument("--out", default=None, help="write the report as JSON here")
    ev.add_argument("--set", action="append", metavar="KEY=VALUE", help="override an EvalConfig field")
    return parser


def run_demo(args) -> int:
    import torch

    import fairdd
    from fairdd.io import write_json

    out = Path(args.out)
    n_models = args.n_models or {"paper": 5, "demo": 3, "smoke": 1}.get(args.preset, 3)
    t_start = time.perf_counter()
    train, test = _load(args, "train"), _load(args, "test")
    print(f"fairdd demo: {args.dataset} ({args.mode}, bias {args.bias}), {len(train)} train / {len(test)} test, "
          f"{train.n_groups} colour groups, IPC {args.ipc}, preset {args.preset!r}, {n_models} eval models, "
          f"device {args.device}", flush=True)
    rows, metrics = [], {}
    runs = [("random", None)] + [(t, t) for t in DEMO_TARGETS]
    for name, target in runs:
        t0 = time.perf_counter()
        if target is None:
            result = fairdd.random_subset(train, ipc=args.ipc, seed=args.seed)
        else:
            result = fairdd.distill(train, method="dm", target=target, ipc=args.ipc, preset=args.preset,
                                    seed=args.seed, device=args.device)
        result.save(out / name)
        report = fairdd.evaluate(result, test, n_models=n_models, preset=args.preset, seed=args.seed,
                                 device=args.device)
        seconds = time.perf_counter() - t0
        metrics[name] = {**report.overall, "std": report.std, "seconds": round(seconds, 1)}
        rows.append((name, report, seconds))
        print(f"  {name:8s} acc {report.accuracy:6.2f}  EOD {report.eod:6.2f}  DEO_A {report.deo_a:6.2f}  "
              f"worst {report.worst_group_accuracy:6.2f}  ({seconds:.0f} s)", flush=True)
    write_json(out / "metrics.json", metrics)
    _bar_chart(out / "metrics.png", metrics)
    print()
    print(f"{'strategy':10s} {'accuracy':>9s} {'EOD':>7s} {'DEO_A':>7s} {'worst-group':>12s} {'seconds':>8s}")
    for name, r, s in rows:
        print(f"{name:10s} {r.accuracy:9.2f} {r.eod:7.2f} {r.deo_a:7.2f} {r.worst_group_accuracy:12.2f} {s:8.1f}")
    print(f"\nwrote {out}/metrics.json, {out}/metrics.png and a grid.png per strategy "
          f"({time.perf_counter() - t_start:.0f} s in all; torch threads {torch.get_num_threads()})")
    return 0


def _bar_chart(path: Path, metrics: dict) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from fairdd.io import atomic_write

    names = list(metrics)
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.2))
    colours = ["#999999", "#E69F00", "#56B4E9", "#009E73", "#0072B2"]  # Okabe–Ito, colour-blind safe
    for ax, key, title in ((axes[0], "accuracy", "Accuracy (%) ↑"), (axes[1], "eod", "EOD (%) ↓")):
        vals = [metrics[n][key] for n in names]
        errs = [metrics[n]["std"][key] for n in names]
        ax.bar(names, vals, yerr=errs, color=colours[: len(names)], capsize=3)
        ax.set_title(title)
        ax.set_ylim(0, 105)
        ax.tick_params(axis="x", rotation=20)
    fig.tight_layout()
    atomic_write(path, lambda p: fig.savefig(p, format="png", dpi=120))
    plt.close(fig)


def run_distill(args) -> int:
    import fairdd

    train = _load(args, "train")
    t0 = time.perf_counter()
    result = fairdd.distill(train, method=args.method, target=args.target, ipc=args.ipc, preset=args.preset,
                            seed=args.seed, device=args.device, checkpoint=args.checkpoint, resume=args.resume,
                            progress=True, **_overrides(args.set))
    result.save(args.out)
    print(f"distilled {len(result.labels)} images in {time.perf_counter() - t0:.1f} s → {args.out}")
    return 0


def run_evaluate(args) -> int:
    import fairdd

    result = fairdd.load_result(args.result)
    test = _load(args, "test")
    report = fairdd.evaluate(result, test, n_models=args.n_models, preset=args.preset, seed=args.seed,
                             device=args.device, progress=True, **_overrides(args.set))
    print(report.summary())
    print(report.by_group.to_string(index=False))
    if args.out:
        report.save(args.out)
    return 0


def run_reproduce(args) -> int:
    from fairdd.experiments import reproduce
    from fairdd.io import atomic_write

    out = Path(args.out or f"results/reproduce/{args.dataset}-{args.mode}-{args.method}-ipc{args.ipc}-{args.preset}")
    t0 = time.perf_counter()

    def show(row):
        print(f"  {row['target']:8s} acc {row['accuracy']:6.2f} ± {row['accuracy_std']:.2f}  EOD {row['eod']:6.2f}  "
              f"(published {row['published_accuracy']:.2f} / {row['published_eod']:.2f})  "
              f"{row['distill_s']:.0f} s + {row['eval_s']:.0f} s eval", flush=True)

    table = reproduce(dataset=args.dataset, mode=args.mode, method=args.method, ipc=args.ipc, targets=args.targets,
                      preset=args.preset, n_models=args.n_models, seed=args.seed, device=args.device,
                      out=out / "rows.json", root=args.root, callback=show,
                      eval_overrides=_overrides(args.eval_set, "--eval-set"), **_overrides(args.set))
    cols = ["accuracy", "accuracy_std", "eod", "eod_std", "deo_a", "published_accuracy", "published_eod", "published_source",
            "distill_s", "eval_s", "ms_per_iteration"]
    text = table[cols].round(2).to_markdown() if _has_tabulate() else table[cols].round(2).to_string()
    atomic_write(out / "table.md", lambda p: p.write_text(text + "\n"))
    from fairdd.viz.paper import latex_table, summary_table

    rows = {t: {**r, "std": {k: r[f"{k}_std"] for k in ("accuracy", "eod", "deo_a", "worst_group_accuracy")}}
            for t, r in table.to_dict(orient="index").items()}
    atomic_write(out / "table.tex", lambda p: p.write_text(latex_table(summary_table(rows))))
    print()
    print(text)
    print(f"\nwall time {time.perf_counter() - t0:.0f} s; wrote {out}/rows.json, table.md, table.tex")
    return 0


def _has_tabulate() -> bool:
    try:
        import tabulate  # noqa: F401
    except ImportError:
        return False
    return True


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return {"demo": run_demo, "distill": run_distill, "evaluate": run_evaluate,
                "reproduce": run_reproduce}[args.command](args)
    except (ValueError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
