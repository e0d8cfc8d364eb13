"""The bad-input table: every public entry point, fed what a new user might type.

Each row calls one entry point with one bad (or unusual) input and asserts the exception type and
that the message names the argument (or the file). CLI rows run ``fairdd.cli.main`` in-process and
assert exit code 2 with one line on stderr and no traceback. A validation error fires before any
distillation, so the table is fast.
"""
import json
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

import fairdd
from fairdd.cli import main
from fairdd.distill import Distiller
from fairdd.results import DistillResult
from fairdd.validate import NonFiniteError

ROOT = Path(__file__).resolve().parents[1]
NAN, INF = float("nan"), float("inf")
CPU = dict(preset="smoke", device="cpu")
HAS_CUDA = torch.cuda.is_available()


@pytest.fixture(scope="module")
def ctx(tmp_path_factory, digits_train, digits_test):
    tmp = tmp_path_factory.mktemp("bad")
    rnd = fairdd.random_subset(digits_train, ipc=1)
    rnd.save(tmp / "result")
    (tmp / "plainfile").write_text("user data")
    (tmp / "userdir").mkdir()
    (tmp / "userdir" / "notes.txt").write_text("mine")
    (tmp / "emptydir").mkdir()
    (tmp / "demo_user" / "cobra").mkdir(parents=True)
    (tmp / "demo_user" / "cobra" / "notes.txt").write_text("mine")
    fairdd.distill(digits_train, target="vanilla", ipc=1, iterations=1, checkpoint=tmp / "ckpt.pt", **CPU)
    nan_images = digits_train.images.clone()
    nan_images[3, 0, 0, 0] = NAN
    no_class0 = digits_train.subset(digits_train.labels != 0)
    return SimpleNamespace(tmp=tmp, train=digits_train, test=digits_test, rnd=rnd,
                           nan_train=digits_train._replace(images=nan_images), no_class0=no_class0)


def _load(**kw):
    args = {"name": "colored-digits", "n_groups": 4, "size": 16, **kw}
    return lambda c: fairdd.datasets.load(args.pop("name"), **args)


def _distill(**kw):
    return lambda c: fairdd.distill(kw.pop("train", c.train), **{"ipc": 1, **CPU, **kw})


def _evaluate(**kw):
    def run(c):
        source = kw.pop("source", c.rnd)
        source = source(c) if callable(source) else source
        test = kw.pop("test", c.test)
        test = test(c) if callable(test) else test
        return fairdd.evaluate(source, test, **{"n_models": 1, **CPU, **kw})
    return run


def _subset(**kw):
    return lambda c: fairdd.random_subset(kw.pop("train", c.train), **{"ipc": 1, **kw})


def _crafted(edit, *, version=2):
    """A copy of the saved result with ``edit(folder)`` applied, then ``load_result``."""
    def run(c):
        import shutil

        folder = c.tmp / f"crafted-{abs(hash((edit, version)))}"
        shutil.rmtree(folder, ignore_errors=True)
        shutil.copytree(c.tmp / "result", folder)
        if version == 1:  # the layout before checksums
            meta = json.loads((folder / "config.json").read_text())
            for key, name in (("tensors", "tensors.pt"), ("history", "history.json")):
                (folder / meta["files"][key]).rename(folder / name)
            meta.pop("files")
            (folder / "config.json").write_text(json.dumps({**meta, "version": 1}))
        edit(folder)
        return fairdd.load_result(folder)
    return run


def _meta(**changes):
    def edit(folder):
        meta = json.loads((folder / "config.json").read_text())
        meta.update(changes)
        (folder / "config.json").write_text(json.dumps(meta))
    return edit


def _tensors_v1(images=None, labels=None):
    def edit(folder):
        data = torch.load(folder / "tensors.pt", weights_only=True)
        if images is not None:
            data["images"] = images(data["images"])
        if labels is not None:
            data["labels"] = labels(data["labels"])
        torch.save(data, folder / "tensors.pt")
    return edit


def _checkpoint(edit):
    def run(c):
        state = torch.load(c.tmp / "ckpt.pt", weights_only=True)
        edit(state)
        path = c.tmp / "crafted-ckpt.pt"
        torch.save(state, path)
        run_ = Distiller(c.train, fairdd.distill_config(target="vanilla", ipc=1, preset="smoke"), device="cpu")
        run_.load_checkpoint(path)
    return run


def _save(path, **kw):
    return lambda c: c.rnd.save(path(c) if callable(path) else path, **kw)


V, FE, FNF, NAD, ISD = ValueError, FileExistsError, FileNotFoundError, NotADirectoryError, IsADirectoryError
NF = NonFiniteError
cuda_only_bad = pytest.mark.skipif(HAS_CUDA, reason="CUDA is available here: device='cuda' is valid")

# Each row's fault class (issue #21), by the first prefix of its name that matches; the rest are "types"
# (a value's type or range at the boundary). tests/conftest.py counts the rows per class.
FAULT_CLASSES = (
    ("ownership", ("save-onto-", "save-under-file", "save-into-", "save-overwrite-keeps", "cli-out-", "cli-demo-out-",
                   "cli-demo-strategy-folder", "cli-reproduce-out-", "cli-evaluate-out-", "distill-checkpoint-",
                   "cli-checkpoint-", "subprocess-out-")),
    ("caches", ("file-", "checkpoint-", "load_result-missing", "load_result-file", "load_result-empty-dir",
                "distill-resume-", "cli-resume-", "cli-evaluate-missing", "cli-evaluate-file", "subprocess-missing")),
    ("unmeasurable", ("evaluate-test-incomplete", "evaluate-5-class", "distill-missing-class")),
    ("comparisons", ("evaluate-other-", "evaluate-test-is-train-split", "cli-evaluate-other-")),
)


def fault_class(name: str) -> str:
    """The fault class of the row called ``name``."""
    return next((cls for cls, prefixes in FAULT_CLASSES if name.startswith(prefixes)), "types")


def rows(table: list) -> list:
    """``pytest.param`` of every row, id = its name, marked with its fault class (marks it had kept)."""
    out = []
    for row in table:
        values, marks = (row.values, list(row.marks)) if isinstance(row, type(pytest.param(0))) else (row, [])
        out.append(pytest.param(*values, id=values[0], marks=[*marks, pytest.mark.fault_class(fault_class(values[0]))]))
    return out


API = [
    # ---------------------------------------------------------------- load
    ("load-name-None", _load(name=None), V, "name"),
    ("load-name-int", _load(name=5), V, "name"),
    ("load-name-unknown", _load(name="cifar"), V, "dataset"),
    ("load-split-val", _load(split="val"), V, "split"),
    ("load-split-None", _load(split=None), V, "split"),
    ("load-mode-sideways", _load(mode="sideways"), V, "mode"),
    ("load-mode-int", _load(mode=1), V, "mode"),
    ("load-bias-0", _load(bias=0.0), V, "bias"),
    ("load-bias-1.5", _load(bias=1.5), V, "bias"),
    ("load-bias-neg", _load(bias=-0.1), V, "bias"),
    ("load-bias-True", _load(bias=True), V, "bias"),
    ("load-bias-str", _load(bias="0.9"), V, "bias"),
    ("load-bias-nan", _load(bias=NAN), NF, "bias"),
    ("load-bias-inf", _load(bias=INF), NF, "bias"),
    ("load-bias-None", _load(bias=None), V, "bias"),
    ("load-n_groups-1", _load(n_groups=1), V, "n_groups"),
    ("load-n_groups-11", _load(n_groups=11), V, "n_groups"),
    ("load-n_groups-float", _load(n_groups=4.0), V, "n_groups"),
    ("load-n_groups-True", _load(n_groups=True), V, "n_groups"),
    ("load-size-4", _load(size=4), V, "size"),
    ("load-size-300", _load(size=300), V, "size"),
    ("load-size-float", _load(size=16.0), V, "size"),
    ("load-severity-neg", _load(severity=-1), V, "severity"),
    ("load-severity-6", _load(severity=6), V, "severity"),
    ("load-severity-float", _load(severity=1.5), V, "severity"),
    ("load-severity-True", _load(severity=True), V, "severity"),
    ("load-seed-float", _load(seed=1.5), V, "seed"),
    ("load-seed-str", _load(seed="3"), V, "seed"),
    ("load-seed-neg", _load(seed=-1), V, "seed"),
    ("load-seed-True", _load(seed=True), V, "seed"),
    ("load-seed-huge", _load(seed=2**64), V, "seed"),
    ("load-groups-floats", _load(groups=[0.5, 1]), V, "groups"),
    ("load-groups-str", _load(groups="red"), V, "groups"),
    ("load-groups-bools", _load(groups=[True, False]), V, "groups"),
    ("load-groups-int", _load(groups=3), V, "groups"),
    ("load-groups-out-of-range", _load(groups=[0, 99]), V, "group"),
    ("load-groups-unknown-colour", _load(groups=["red", "mauve"]), V, "mauve"),
    ("load-groups-empty", _load(groups=[]), V, "groups"),
    ("load-groups-repeated", _load(groups=[0, 0]), V, "groups"),
    ("load-group_noise-2", _load(group_noise=2.0), V, "group_noise"),
    ("load-group_noise-nan", _load(group_noise=NAN), NF, "group_noise"),
    ("load-group_noise-str", _load(group_noise="x"), V, "group_noise"),
    ("load-group_labels-neg", _load(group_labels=-1.0), V, "group_labels"),
    ("load-group_labels-str", _load(group_labels="all"), V, "group_labels"),
    ("load-root-int", _load(root=5), V, "root"),
    ("load-download-str", _load(download="yes"), V, "download"),
    # ------------------------------------------------------------- distill
    ("distill-train-None", _distill(train=None), V, "train"),
    ("distill-train-str", _distill(train="colored-mnist"), V, "train"),
    ("distill-train-empty", lambda c: fairdd.distill(c.train.subset(c.train.labels < 0), ipc=1, **CPU), V, "train"),
    ("distill-method-unknown", _distill(method="mtt"), V, "method"),
    ("distill-method-None", _distill(method=None), V, "method"),
    ("distill-target-unknown", _distill(target="fair"), V, "target"),
    ("distill-target-int", _distill(target=3), V, "target"),
    ("distill-ipc-0", _distill(ipc=0), V, "ipc"),
    ("distill-ipc-neg", _distill(ipc=-1), V, "ipc"),
    ("distill-ipc-float", _distill(ipc=2.5), V, "ipc"),
    ("distill-ipc-str", _distill(ipc="10"), V, "ipc"),
    ("distill-ipc-True", _distill(ipc=True), V, "ipc"),
    ("distill-ipc-over-class", _distill(ipc=200), V, "ipc=200"),
    ("distill-ipc-1e6", _distill(ipc=10**6), V, "ipc"),
    ("distill-ipc-1e6-noise", _distill(ipc=10**8, init="noise"), V, "ipc"),
    ("distill-idc-ipc-over-class", _distill(method="idc", target="fairdd", ipc=200), V, "ipc=200"),  # one real image per slot
    ("distill-preset-unknown", _distill(preset="fast"), V, "preset"),
    ("distill-preset-None", _distill(preset=None), V, "preset"),
    ("distill-seed-float", _distill(seed=1.5), V, "seed"),
    ("distill-seed-str", _distill(seed="1"), V, "seed"),
    ("distill-seed-None", _distill(seed=None), V, "seed"),
    ("distill-seed-neg", _distill(seed=-3), V, "seed"),
    ("distill-seed-True", _distill(seed=True), V, "seed"),
    pytest.param("distill-device-cuda", _distill(device="cuda"), V, "device", marks=cuda_only_bad),
    pytest.param("distill-device-cuda0", _distill(device="cuda:0"), V, "device", marks=cuda_only_bad),
    ("distill-device-gpu", _distill(device="gpu"), V, "device"),
    ("distill-device-int", _distill(device=0), V, "device"),
    ("distill-device-None", _distill(device=None), V, "device"),
    ("distill-device-cuda99", _distill(device="cuda:99"), V, "device"),
    ("distill-checkpoint-int", _distill(checkpoint=5), V, "checkpoint"),
    ("distill-checkpoint-under-file", lambda c: fairdd.distill(c.train, ipc=1, checkpoint=c.tmp / "plainfile" / "x.pt",
                                                               **CPU), NAD, "plainfile"),
    ("distill-checkpoint-is-folder", lambda c: fairdd.distill(c.train, ipc=1, checkpoint=c.tmp / "emptydir", **CPU),
     ISD, "emptydir"),
    ("distill-resume-missing", lambda c: fairdd.distill(c.train, ipc=1, resume=c.tmp / "nope.pt", **CPU), FNF, "resume"),
    ("distill-resume-not-checkpoint", lambda c: fairdd.distill(c.train, ipc=1, resume=c.tmp / "plainfile", **CPU),
     V, "plainfile"),
    ("distill-resume-other-config", lambda c: fairdd.distill(c.train, ipc=2, target="vanilla", resume=c.tmp / "ckpt.pt",
                                                             **CPU), V, "ipc=1"),
    ("distill-lr_img-inf", _distill(lr_img=INF), NF, "lr_img"),
    ("distill-lr_img-nan", _distill(lr_img=NAN), NF, "lr_img"),
    ("distill-lr_img-neg", _distill(lr_img=-1.0), V, "lr_img"),
    ("distill-lr_img-0", _distill(lr_img=0), V, "lr_img"),
    ("distill-lr_img-str", _distill(lr_img="1"), V, "lr_img"),
    ("distill-lr_img-None", _distill(lr_img=None), V, "lr_img"),
    ("distill-lr_net-inf", _distill(method="dc", target="fairdd", lr_net=INF), NF, "lr_net"),
    ("distill-warm_start_lr-nan", _distill(warm_start_lr=NAN), NF, "warm_start_lr"),
    ("distill-warm_start_batch-0", _distill(warm_start_batch=0), V, "warm_start_batch"),
    ("distill-momentum-1.5", _distill(momentum=1.5), V, "momentum"),
    ("distill-momentum-str", _distill(momentum="0.5"), V, "momentum"),
    ("distill-momentum-nan", _distill(momentum=NAN), NF, "momentum"),
    ("distill-iterations-0", _distill(iterations=0), V, "iterations"),
    ("distill-iterations-float", _distill(iterations=2.5), V, "iterations"),
    ("distill-batch_real-0", _distill(batch_real=0), V, "batch_real"),
    ("distill-width-neg", _distill(width=-1), V, "width"),
    ("distill-depth-str", _distill(depth="3"), V, "depth"),
    ("distill-group_weights-int", _distill(group_weights=5), V, "group_weights"),
    ("distill-group_weights-nan", _distill(group_weights=[NAN] * 4), NF, "group_weights"),
    ("distill-group_weights-inf", _distill(group_weights=[INF, 1, 1, 1]), NF, "group_weights"),
    ("distill-group_weights-neg", _distill(group_weights=[-5] * 4), V, "group_weights"),
    ("distill-group_weights-zero", _distill(group_weights=[0] * 4), V, "group_weights"),
    ("distill-group_weights-denormal", _distill(group_weights=[1e-320] * 4), V, "group_weights"),
    ("distill-group_weights-name", _distill(group_weights="equal"), V, "group_weights"),
    ("distill-group_weights-length", _distill(group_weights=[1, 1]), V, "group_weights"),
    ("distill-group_weights-empty", _distill(group_weights=[]), V, "group_weights"),
    ("distill-group_weights-str-entries", _distill(group_weights=["1"] * 4), V, "group_weights"),
    ("distill-group_weights-vanilla", _distill(target="vanilla", group_weights=[1] * 4), V, "group_weights"),
    ("distill-group_weights-fairdd", _distill(target="fairdd", group_weights=[-5] * 4), V, "group_weights"),
    ("distill-group_weights-uniform-target", _distill(target="uniform", group_weights="proportional"), V,
     "group_weights"),
    ("distill-init-zeros", _distill(init="zeros"), V, "init"),
    ("distill-distance-l3", _distill(distance="l3"), V, "distance"),
    ("distill-norm-layer", _distill(norm="layernorm"), V, "norm"),
    ("distill-compile-1", _distill(compile=1), V, "compile"),
    ("distill-compile-fast", _distill(compile="fast"), V, "compile"),
    ("distill-dsa-yes", _distill(dsa="yes"), V, "dsa"),
    ("distill-precision-fp16", _distill(precision="fp16"), V, "precision"),
    ("distill-unknown-option", _distill(lr=0.1), V, "lr"),
    ("distill-refresh-dc", _distill(method="dc", target="fairdd", refresh_every=2), V, "refresh_every"),
    ("distill-w2-with-dc", _distill(method="dc", target="cobra-w2"), V, "method"),
    ("distill-progress-str", _distill(progress="yes"), V, "progress"),
    ("distill-callbacks-int", _distill(callbacks=[5]), V, "callbacks"),
    ("distill-nan-data", lambda c: fairdd.distill(c.nan_train, ipc=1, **CPU), NF, "training images"),
    ("distill-missing-class", lambda c: fairdd.distill(c.no_class0, ipc=1, **CPU), V, "train"),
    ("distill-missing-class-noise", lambda c: fairdd.distill(c.no_class0, ipc=1, init="noise", **CPU), V, "train"),
    # ------------------------------------------------------------ Distiller
    ("Distiller-train-None", lambda c: Distiller(None, fairdd.distill_config(preset="smoke")), V, "train"),
    ("Distiller-config-dict", lambda c: Distiller(c.train, {"ipc": 1}), V, "config"),
    ("Distiller-config-None", lambda c: Distiller(c.train, None), V, "config"),
    pytest.param("Distiller-device-cuda", lambda c: Distiller(c.train, fairdd.distill_config(preset="smoke"),
                                                              device="cuda"), V, "device", marks=cuda_only_bad),
    ("Distiller-nan-data", lambda c: Distiller(c.nan_train, fairdd.distill_config(preset="smoke", ipc=1)), NF,
     "training images"),
    ("Distiller-ipc-over-class", lambda c: Distiller(c.train, fairdd.distill_config(preset="smoke", ipc=500)), V,
     "ipc=500"),
    ("distill_config-seed-float", lambda c: fairdd.distill_config(seed=0.5), V, "seed"),
    ("eval_config-epochs-0", lambda c: fairdd.eval_config(epochs=0), V, "epochs"),
    ("eval_config-lr-inf", lambda c: fairdd.eval_config(lr=INF), NF, "lr"),
    # ------------------------------------------------------------ evaluate
    ("evaluate-source-None", _evaluate(source=None), V, "source"),
    ("evaluate-source-path", _evaluate(source="results/x"), V, "source"),
    ("evaluate-source-int", _evaluate(source=5), V, "source"),
    ("evaluate-test-None", _evaluate(test=None), V, "test"),
    ("evaluate-test-str", _evaluate(test="colored-digits"), V, "test"),
    ("evaluate-test-incomplete", _evaluate(test=lambda c: c.test.subset(c.test.groups != 1)), V, "test set"),
    ("evaluate-n_models-0", _evaluate(n_models=0), V, "n_models"),
    ("evaluate-n_models-neg", _evaluate(n_models=-1), V, "n_models"),
    ("evaluate-n_models-True", _evaluate(n_models=True), V, "n_models"),
    ("evaluate-n_models-float", _evaluate(n_models=1.5), V, "n_models"),
    ("evaluate-n_models-str", _evaluate(n_models="3"), V, "n_models"),
    ("evaluate-batched-yes", _evaluate(batched="yes"), V, "batched"),
    ("evaluate-batched-1", _evaluate(batched=1), V, "batched"),
    ("evaluate-batched-None", _evaluate(batched=None), V, "batched"),
    ("evaluate-keep_models-str", _evaluate(keep_models="yes"), V, "keep_models"),
    ("evaluate-progress-int", _evaluate(progress=1), V, "progress"),
    ("evaluate-check_dataset-str", _evaluate(check_dataset="no"), V, "check_dataset"),
    ("evaluate-seed-float", _evaluate(seed=1.5), V, "seed"),
    ("evaluate-seed-str", _evaluate(seed="3"), V, "seed"),
    ("evaluate-preset-unknown", _evaluate(preset="fast"), V, "preset"),
    pytest.param("evaluate-device-cuda", _evaluate(device="cuda"), V, "device", marks=cuda_only_bad),
    ("evaluate-device-tpu", _evaluate(device="tpu"), V, "device"),
    ("evaluate-epochs-0", _evaluate(epochs=0), V, "epochs"),
    ("evaluate-lr-nan", _evaluate(lr=NAN), NF, "lr"),
    ("evaluate-lr-inf", _evaluate(lr=INF), NF, "lr"),
    ("evaluate-lr-neg", _evaluate(lr=-1.0), V, "lr"),
    ("evaluate-lr-str", _evaluate(lr="0.01"), V, "lr"),
    ("evaluate-momentum-1", _evaluate(momentum=1.0), V, "momentum"),
    ("evaluate-weight_decay-neg", _evaluate(weight_decay=-1.0), V, "weight_decay"),
    ("evaluate-unknown-option", _evaluate(epoch=3), V, "epoch"),
    ("evaluate-compile-fast", _evaluate(compile="fast"), V, "compile"),
    ("evaluate-precision-fp16", _evaluate(precision="fp16"), V, "precision"),
    ("evaluate-nan-result", _evaluate(source=lambda c: DistillResult(c.rnd.images * NAN, c.rnd.labels,
                                                                     dataset=c.rnd.dataset)), NF, "source"),
    ("evaluate-inf-result", _evaluate(source=lambda c: DistillResult(c.rnd.images.clone().fill_(INF), c.rnd.labels,
                                                                     dataset=c.rnd.dataset)), NF, "source"),
    ("evaluate-negative-labels", _evaluate(source=lambda c: DistillResult(c.rnd.images, c.rnd.labels - 1,
                                                                          dataset=c.rnd.dataset)), V, "labels"),
    ("evaluate-empty-result", _evaluate(source=lambda c: DistillResult(c.rnd.images[:0], c.rnd.labels[:0],
                                                                       dataset=c.rnd.dataset)), V, "labels"),
    ("evaluate-nan-real-source", _evaluate(source=lambda c: c.nan_train), NF, "source"),
    ("evaluate-nan-test", _evaluate(test=lambda c: c.test._replace(images=c.test.images * NAN)), NF, "test images"),
    ("evaluate-other-severity", _evaluate(test=lambda c: fairdd.datasets.load(
        "colored-digits", split="test", n_groups=4, size=16, severity=3)), V, "severity"),
    ("evaluate-other-mode", _evaluate(test=lambda c: fairdd.datasets.load(
        "colored-digits", split="test", n_groups=4, size=16, mode="background")), V, "mode"),
    ("evaluate-other-groups", _evaluate(test=lambda c: fairdd.datasets.load(
        "colored-digits", split="test", n_groups=2, size=16)), V, "n_groups"),
    ("evaluate-other-size-unchecked", _evaluate(check_dataset=False, test=lambda c: fairdd.datasets.load(
        "colored-digits", split="test", n_groups=4, size=32)), V, "shape"),
    ("evaluate-n_models-1e6", _evaluate(n_models=10**6), V, "n_models"),
    ("evaluate-test-is-train-split", _evaluate(test=lambda c: c.train), V, "split 'train'"),
    ("evaluate-width-huge", _evaluate(width=10**7), V, "width"),
    ("distill-width-huge", _distill(width=10**7), V, "width"),
    ("select_groups-float", lambda c: c.train.select_groups([0.5]), V, "0.5"),
    ("select_groups-unknown-name", lambda c: c.train.select_groups(["mauve"]), V, "mauve"),
    ("evaluate-5-class-test-set", _evaluate(test=lambda c: c.test.subset(c.test.labels < 5)._replace(
        class_names=c.test.class_names[:5])), V, "n_classes 10 (now 5)"),
    ("evaluate-5-classes-unchecked", _evaluate(check_dataset=False, test=lambda c: c.test.subset(
        c.test.labels < 5)._replace(class_names=c.test.class_names[:5])), V, "classes"),
    # -------------------------------------------------------- random_subset
    ("random_subset-ipc-0", _subset(ipc=0), V, "ipc"),
    ("random_subset-ipc-neg", _subset(ipc=-1), V, "ipc"),
    ("random_subset-ipc-float", _subset(ipc=2.5), V, "ipc"),
    ("random_subset-ipc-1000", _subset(ipc=1000), V, "ipc=1000"),
    ("random_subset-ipc-str", _subset(ipc="2"), V, "ipc"),
    ("random_subset-ipc-None", _subset(ipc=None), V, "ipc"),
    ("random_subset-ipc-True", _subset(ipc=True), V, "ipc"),
    ("random_subset-seed-float", _subset(seed=1.5), V, "seed"),
    ("random_subset-seed-str", _subset(seed="x"), V, "seed"),
    ("random_subset-train-None", _subset(train=None), V, "train"),
    ("random_subset-nan-data", lambda c: fairdd.random_subset(c.nan_train, ipc=1), NF, "training images"),
    # --------------------------------------------------- load_result / files
    ("load_result-None", lambda c: fairdd.load_result(None), V, "path"),
    ("load_result-int", lambda c: fairdd.load_result(5), V, "path"),
    ("load_result-empty-str", lambda c: fairdd.load_result(""), V, "path"),
    ("load_result-missing", lambda c: fairdd.load_result(c.tmp / "nope"), FNF, "nope"),
    ("load_result-file", lambda c: fairdd.load_result(c.tmp / "plainfile"), FNF, "plainfile"),
    ("load_result-empty-dir", lambda c: fairdd.load_result(c.tmp / "emptydir"), FNF, "emptydir"),
    ("file-config-not-json", _crafted(lambda f: (f / "config.json").write_text("{not json")), V, "config.json"),
    ("file-config-truncated", _crafted(lambda f: (f / "config.json").write_text(
        (f / "config.json").read_text()[:40])), V, "config.json"),
    ("file-config-list", _crafted(lambda f: (f / "config.json").write_text("[1, 2]")), V, "config.json"),
    ("file-config-other-format", _crafted(_meta(format="other")), V, "config.json"),
    ("file-config-version-99", _crafted(_meta(version=99)), V, "version"),
    ("file-config-config-list", _crafted(_meta(config=[1, 2])), V, "config"),
    ("file-config-dataset-str", _crafted(_meta(dataset="mnist")), V, "dataset"),
    ("file-config-no-files", _crafted(_meta(files=None)), V, "files"),
    ("file-config-traversal", _crafted(_meta(files={"tensors": "../../etc/passwd", "history": "h.json"})), V, "files"),
    ("file-config-factor-str", _crafted(_meta(config={"factor": "x"})), V, "factor"),
    ("file-tensors-flipped", _crafted(lambda f: next(f.glob("tensors-*.pt")).write_bytes(
        next(f.glob("tensors-*.pt")).read_bytes()[:-9] + b"\x00" * 9)), V, "checksum"),
    ("file-tensors-missing", _crafted(lambda f: next(f.glob("tensors-*.pt")).unlink()), FNF, "tensors"),
    ("file-history-tampered", _crafted(lambda f: next(f.glob("history-*.json")).write_text("[]")), V, "history"),
    ("file-v1-tensors-garbage", _crafted(lambda f: (f / "tensors.pt").write_bytes(b"garbage"), version=1), V,
     "tensors.pt"),
    ("file-v1-tensors-not-dict", _crafted(lambda f: torch.save([1, 2], f / "tensors.pt"), version=1), V,
     "tensors.pt"),
    ("file-v1-history-truncated", _crafted(lambda f: (f / "history.json").write_text('[{"iteration": 1, "lo'),
                                           version=1), V, "history.json"),
    ("file-v1-history-shape", _crafted(lambda f: (f / "history.json").write_text('{"a": 1}'), version=1), V,
     "history.json"),
    ("file-v1-labels-neg", _crafted(_tensors_v1(labels=lambda y: y - 1), version=1), V, "labels"),
    ("file-v1-labels-over", _crafted(_tensors_v1(labels=lambda y: y + 10), version=1), V, "labels"),
    ("file-v1-labels-empty", _crafted(_tensors_v1(images=lambda x: x[:0], labels=lambda y: y[:0]), version=1), V,
     "no images"),
    ("file-v1-labels-float", _crafted(_tensors_v1(labels=lambda y: y.float()), version=1), V, "labels"),
    ("file-v1-images-nan", _crafted(_tensors_v1(images=lambda x: x * NAN), version=1), NF, "images"),
    ("file-v1-images-3d", _crafted(_tensors_v1(images=lambda x: x[:, 0]), version=1), V, "images"),
    ("save-path-None", _save(None), V, "path"),
    ("save-overwrite-str", _save(lambda c: c.tmp / "new", overwrite="yes"), V, "overwrite"),
    ("save-onto-file", _save(lambda c: c.tmp / "plainfile", overwrite=True), FE, "plainfile"),
    ("save-onto-user-folder", _save(lambda c: c.tmp / "userdir", overwrite=True), FE, "userdir"),
    ("save-onto-result-no-overwrite", _save(lambda c: c.tmp / "result"), FE, "overwrite=True"),
    ("save-under-file", _save(lambda c: c.tmp / "plainfile" / "sub"), NAD, "plainfile"),
    ("DistillResult-int-images", lambda c: DistillResult(torch.zeros(2, 3, 8, 8, dtype=torch.long), torch.arange(2)),
     V, "images"),
    ("DistillResult-labels-shape", lambda c: DistillResult(torch.zeros(2, 3, 8, 8), torch.arange(3)), V, "labels"),
    ("DistillResult-config-list", lambda c: DistillResult(torch.zeros(2, 3, 8, 8), torch.arange(2), config=[]), V,
     "config"),
    ("checkpoint-missing-keys", _checkpoint(lambda s: s.pop("history")), V, "history"),
    ("checkpoint-format", _checkpoint(lambda s: s.update(format="x")), V, "format"),
    ("checkpoint-config-garbage", _checkpoint(lambda s: s.update(config=torch.tensor([1, 2, 3], dtype=torch.uint8))),
     V, "config"),
    ("checkpoint-history-shape", _checkpoint(lambda s: s.update(history=torch.zeros(1, 2, dtype=torch.float64))), V,
     "history"),
    ("checkpoint-iteration-mismatch", _checkpoint(lambda s: s.update(iteration=torch.tensor(7))), V, "iteration"),
    ("checkpoint-images-shape", _checkpoint(lambda s: s.update(images=torch.zeros(3, 3, 16, 16))), V, "images"),
    ("checkpoint-images-nan", _checkpoint(lambda s: s.update(images=s["images"] * NAN)), NF, "images"),
    ("checkpoint-momentum-shape", _checkpoint(lambda s: s.update(momentum=torch.zeros(2))), V, "momentum"),
    ("checkpoint-dataset-other", _checkpoint(lambda s: s.update(dataset=torch.frombuffer(
        bytearray(b'{"name": "colored-mnist"}'), dtype=torch.uint8).clone())), V, "name"),
]


@pytest.mark.parametrize("name,call,exc,needle", rows(API))
def test_api_bad_input(ctx, name, call, exc, needle):
    with pytest.raises(exc) as err:
        call(ctx)
    message = str(err.value)
    assert needle in message, f"{name}: {message!r} does not name {needle!r}"
    assert "\n" not in message.strip() or len(message) < 500


def _cli(*argv):
    return lambda c: [str(a).format(tmp=c.tmp) for a in argv]


D = ("distill", "--dataset", "colored-digits", "--preset", "smoke", "--device", "cpu", "--ipc", "1")
E = ("evaluate", "{tmp}/result", "--preset", "smoke", "--device", "cpu", "--n-models", "1")
R = ("reproduce", "colored-digits", "--preset", "smoke", "--device", "cpu", "--n-models", "1", "--targets", "random")

CLI = [
    ("cli-set-seed-is-flag", _cli(*D, "--out", "{tmp}/c1", "--set", "seed=3"), "--seed"),
    ("cli-set-ipc-is-flag", _cli(*D, "--out", "{tmp}/c1", "--set", "ipc=2"), "--ipc"),
    ("cli-set-target-is-flag", _cli(*D, "--out", "{tmp}/c1", "--set", "target=vanilla"), "--target"),
    ("cli-set-unknown", _cli(*D, "--out", "{tmp}/c1", "--set", "foo=1"), "foo"),
    ("cli-set-no-equals", _cli(*D, "--out", "{tmp}/c1", "--set", "iterations"), "--set"),
    ("cli-set-lr-nan", _cli(*D, "--out", "{tmp}/c1", "--set", "lr_img=nan"), "lr_img"),
    ("cli-set-lr-str", _cli(*D, "--out", "{tmp}/c1", "--set", "lr_img=fast"), "lr_img"),
    ("cli-set-group_weights-vanilla", _cli(*D, "--target", "vanilla", "--out", "{tmp}/c1", "--set",
                                           "group_weights=proportional"), "group_weights"),
    ("cli-bias-2", _cli(*D, "--bias", "2", "--out", "{tmp}/c1"), "bias"),
    ("cli-bias-nan", _cli(*D, "--bias", "nan", "--out", "{tmp}/c1"), "bias"),
    ("cli-ipc-0", _cli(*D[:-1], "0", "--out", "{tmp}/c1"), "ipc"),
    ("cli-ipc-over-class", _cli(*D[:-1], "500", "--out", "{tmp}/c1"), "ipc=500"),
    ("cli-seed-neg", _cli(*D, "--seed", "-1", "--out", "{tmp}/c1"), "seed"),
    pytest.param("cli-device-cuda", _cli(*D[:5], "--ipc", "1", "--device", "cuda", "--out", "{tmp}/c1"), "device",
                 marks=cuda_only_bad),
    ("cli-device-gpu", _cli(*D, "--device", "gpu", "--out", "{tmp}/c1"), "device"),
    ("cli-out-under-file", _cli(*D, "--out", "{tmp}/plainfile/sub"), "plainfile"),
    ("cli-out-is-file", _cli(*D, "--out", "{tmp}/plainfile"), "plainfile"),
    ("cli-out-user-folder", _cli(*D, "--out", "{tmp}/userdir"), "userdir"),
    ("cli-out-user-folder-overwrite", _cli(*D, "--out", "{tmp}/userdir", "--overwrite"), "userdir"),
    ("cli-out-result-no-overwrite", _cli(*D, "--out", "{tmp}/result"), "--overwrite"),
    ("cli-checkpoint-folder", _cli(*D, "--out", "{tmp}/c1", "--checkpoint", "{tmp}/emptydir"), "emptydir"),
    ("cli-checkpoint-under-file", _cli(*D, "--out", "{tmp}/c1", "--checkpoint", "{tmp}/plainfile/c.pt"), "plainfile"),
    ("cli-resume-missing", _cli(*D, "--out", "{tmp}/c1", "--resume", "{tmp}/nope.pt"), "nope.pt"),
    ("cli-download-builtin", _cli(*D, "--download", "--out", "{tmp}/c1"), "--download"),
    ("cli-demo-ipc-0", _cli("demo", "--preset", "smoke", "--dataset", "colored-digits", "--device", "cpu", "--ipc", "0",
                            "--out", "{tmp}/demo"), "ipc"),
    ("cli-demo-n-models-0", _cli("demo", "--preset", "smoke", "--dataset", "colored-digits", "--device", "cpu",
                                 "--n-models", "0", "--out", "{tmp}/demo0"), "n_models"),
    ("cli-demo-out-file", _cli("demo", "--preset", "smoke", "--out", "{tmp}/plainfile"), "plainfile"),
    ("cli-demo-strategy-folder-is-users", _cli("demo", "--preset", "smoke", "--out", "{tmp}/demo_user"), "cobra"),
    ("cli-evaluate-missing", _cli("evaluate", "{tmp}/nope", "--preset", "smoke"), "nope"),
    ("cli-evaluate-file", _cli("evaluate", "{tmp}/plainfile", "--preset", "smoke"), "plainfile"),
    ("cli-evaluate-out-folder", _cli(*E, "--out", "{tmp}/emptydir"), "emptydir"),
    ("cli-evaluate-out-under-file", _cli(*E, "--out", "{tmp}/plainfile/r.json"), "plainfile"),
    ("cli-evaluate-other-severity", _cli(*E, "--severity", "3"), "severity"),
    ("cli-evaluate-other-dataset", _cli(*E, "--dataset", "colored-mnist-5k"), "name"),
    ("cli-evaluate-set-n_models-flag", _cli(*E, "--set", "n_models=2"), "--n-models"),
    ("cli-evaluate-set-unknown", _cli(*E, "--set", "epoch=2"), "epoch"),
    ("cli-evaluate-n-models-0", _cli(*E[:-1], "0"), "n_models"),
    ("cli-reproduce-out-file", _cli(*R, "--out", "{tmp}/plainfile"), "plainfile"),
    ("cli-reproduce-eval-set-bad", _cli(*R, "--out", "{tmp}/rep", "--eval-set", "nope=1"), "nope"),
    ("cli-reproduce-eval-set-flag", _cli(*R, "--out", "{tmp}/rep", "--eval-set", "seed=1"), "--seed"),
    ("cli-reproduce-n-models-0", _cli(*R[:7], "0", "--targets", "random", "--out", "{tmp}/rep0"), "n_models"),
]


@pytest.mark.parametrize("name,argv,needle", rows(CLI))
def test_cli_bad_input(ctx, capsys, name, argv, needle):
    before = {p: p.stat().st_mtime_ns for p in ctx.tmp.rglob("*") if p.is_file()}
    assert main(argv(ctx)) == 2
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip() and not line.startswith("fairdd: paper")]
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in err, err
    assert needle in lines[0], f"{name}: {lines[0]!r} does not name {needle!r}"
    # nothing the user had was changed (no data lost)
    assert all(p.is_file() and p.stat().st_mtime_ns == t for p, t in before.items())


ARGPARSE = [
    ("argparse-target", ["distill", "--target", "fair", "--out", "x"], "--target"),
    ("argparse-method", ["distill", "--method", "mtt", "--out", "x"], "--method"),
    ("argparse-preset", ["distill", "--preset", "fast", "--out", "x"], "--preset"),
    ("argparse-dataset", ["distill", "--dataset", "cifar", "--out", "x"], "--dataset"),
    ("argparse-mode", ["distill", "--mode", "side", "--out", "x"], "--mode"),
    ("argparse-severity", ["distill", "--severity", "9", "--out", "x"], "--severity"),
    ("argparse-ipc-str", ["distill", "--ipc", "ten", "--out", "x"], "--ipc"),
    ("argparse-no-out", ["distill"], "--out"),
    ("argparse-reproduce-target", ["reproduce", "colored-digits", "--targets", "whole"], "--targets"),
    ("argparse-reproduce-dataset", ["reproduce", "cifar"], "dataset"),
    ("argparse-no-command", [], "command"),
    ("argparse-unknown-command", ["train"], "train"),
]


@pytest.mark.parametrize("name,argv,needle", rows(ARGPARSE))
def test_cli_usage_errors(capsys, name, argv, needle):
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and needle in err.splitlines()[-1]


@pytest.mark.parametrize("name,argv,needle", rows([
    ("subprocess-out-under-file", ["distill", "--dataset", "colored-digits", "--out", "{tmp}/plainfile/x", "--preset",
                                   "smoke"], "plainfile"),
    ("subprocess-missing-result", ["evaluate", "{tmp}/nope"], "nope"),
    ("subprocess-ipc-neg", ["demo", "--preset", "smoke", "--ipc", "-1", "--dataset", "colored-digits", "--out",
                            "{tmp}/d"], "ipc"),
]))
def test_cli_subprocess_one_line(tmp_path, name, argv, needle):
    (tmp_path / "plainfile").write_text("x")
    argv = [a.format(tmp=tmp_path) for a in argv]
    proc = subprocess.run([sys.executable, "-m", "fairdd", *argv], capture_output=True, text=True,
                          env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", "OMP_NUM_THREADS": "1"})
    assert proc.returncode == 2
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and needle in lines[0] and "Traceback" not in proc.stderr, proc.stderr


def test_table_has_150_rows():
    assert len(API) + len(CLI) + len(ARGPARSE) + 3 >= 150


# Unusual inputs that are valid: each must do the right thing (not be refused, not be silently changed).
def _load_ok(**kw):
    def run(c):
        ds = _load(**kw)(c)
        return all(ds.info.get(k) == v for k, v in kw.items() if k in ("bias", "seed", "severity"))
    return run


def _distinct_subset(c):
    counts = torch.bincount(c.train.labels)
    smallest = int(counts.min())
    r = fairdd.random_subset(c.train, ipc=smallest)
    return len(r.labels) == smallest * 10 and torch.unique(r.images.flatten(1), dim=0).shape[0] > 0.95 * len(r.labels)


def _overwrite_keeps_user_files(c):
    folder = c.tmp / "ok-overwrite"
    c.rnd.save(folder)
    (folder / "notes.txt").write_text("mine")
    c.rnd.save(folder, overwrite=True)
    return (folder / "notes.txt").read_text() == "mine" and torch.equal(fairdd.load_result(folder).images, c.rnd.images)


def _is_terminal_under_ci(c):
    import os
    from unittest import mock

    from fairdd.cli import _is_terminal

    with mock.patch.dict(os.environ, {"CI": "true"}), mock.patch("sys.stderr.isatty", return_value=True):
        under_ci = _is_terminal()
    with mock.patch.dict(os.environ, {"CI": ""}), mock.patch("sys.stderr.isatty", return_value=False):
        piped = _is_terminal()
    return not under_ci and not piped


VALID = [
    ("load-bias-1", _load_ok(bias=1.0)),
    ("load-bias-int-1", _load_ok(bias=1)),
    ("load-seed-max", _load_ok(seed=2**63 - 1)),
    ("load-seed-None-is-the-default-draw", lambda c: torch.equal(_load(seed=None)(c).groups, _load()(c).groups)),
    ("load-groups-names", lambda c: _load(groups=["red", "blue"])(c).group_names == ("red", "blue")),
    ("load-severity-5", _load_ok(severity=5)),
    ("load-mode-bg-alias", lambda c: _load(mode="bg")(c).info["mode"] == "background"),
    ("random_subset-ipc-smallest-class", _distinct_subset),
    ("config-cobra-weights-with-zero", lambda c: fairdd.distill_config(group_weights=[0, 1, 1, 1]).group_weights
     == [0, 1, 1, 1]),
    ("config-cobra-proportional", lambda c: fairdd.distill_config(group_weights="proportional") is not None),
    ("config-seed-numpy-int", lambda c: fairdd.distill_config(seed=__import__("numpy").int64(3)).seed == 3),
    ("distill-numpy-ints", lambda c: len(fairdd.distill(c.train, ipc=__import__("numpy").int64(1),
                                                        seed=__import__("numpy").int64(2), iterations=1,
                                                        **CPU).labels) == 10),
    ("random_subset-numpy-int", lambda c: len(fairdd.random_subset(c.train, ipc=__import__("numpy").int64(2),
                                                                   seed=__import__("numpy").int64(1)).labels) == 20),
    ("device-torch-cpu", lambda c: Distiller.__init__.__globals__["resolve_device"](torch.device("cpu")).type == "cpu"),
    ("save-into-empty-folder", lambda c: c.rnd.save(c.tmp / "emptydir2") is not None),
    ("save-overwrite-keeps-user-files", _overwrite_keeps_user_files),
    ("evaluate-other-seed-test-set", lambda c: fairdd.evaluate(c.rnd, _load(split="test", seed=4)(c), n_models=1,
                                                               epochs=1, **CPU).accuracy >= 0),
    ("cli-progress-off-under-ci-or-pipe", _is_terminal_under_ci),
]


@pytest.mark.parametrize("name,check", rows(VALID))
def test_unusual_but_valid_inputs(ctx, name, check):
    assert check(ctx)


def test_cli_version_and_examples(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0 and capsys.readouterr().out.strip() == f"fairdd {fairdd.__version__}"
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    assert all(f"fairdd {cmd}" in out for cmd in ("demo", "distill", "evaluate", "reproduce"))
    with pytest.raises(SystemExit):
        main(["distill", "--help"])
    out = capsys.readouterr().out
    assert all(t in out for t in ("cobra-w2", "cobra-gauss", "uniform", "idc", "cafe"))
