"""The embedding view and the heatmap explain themselves (a picked synthetic point shows its image, a
picked cell its test images with the proxy networks' answers), and the dashboard runs on every dataset:
the ones whose files are missing are marked unavailable up-front, never a crash, and on the file
fixtures (64 px faces with 3 classes × 4 groups and 2 × 2, CIFAR10-S's grayscale/colour) every view
renders with the dataset's own group names."""
import html
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from fairdd.widgets import DistillController

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "data"))
from file_fixtures import cifar_arrays, write_bffhq, write_cifar_python, write_utkface

FAST = {"preset": "smoke", "proxy_every": 2, "refresh_every": 2, "min_refresh_s": 0.0, "proxy_epochs": 2,
        "per_group": 6, "device": "cpu", "embedding": "pca"}
DIGITS = {"dataset": "colored-digits", "n_groups": 4}


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """One $FAIRDD_DATA folder holding UTKFace/, bffhq/ and cifar-10-batches-py/ in their real formats."""
    base = tmp_path_factory.mktemp("fairdd_data")
    write_utkface(base)
    write_bffhq(base)
    write_cifar_python(base, cifar_arrays(n_train_per_class=8, n_test_per_class=4))
    return base


# ------------------------------------------------------------------------- inspecting
def test_controller_gives_a_synthetic_points_image_and_a_cells_answers(digits_train, digits_test):
    ctl = DistillController(train=digits_train, test=digits_test, **FAST)
    with pytest.raises(ValueError, match="no proxy evaluation yet"):
        ctl.cell_examples(0, 0)
    ctl.advance(2)
    c = ctl.settings.view_class
    syn = ctl.run.images.detach()[ctl.run.labels == c]
    assert torch.equal(ctl.synthetic_image(3), digits_train.display(syn[3:4])[0])
    ex = ctl.cell_examples(1, 2, k=5)
    index = ex["index"]
    assert ((digits_test.labels[index] == 1) & (digits_test.groups[index] == 2)).all() and len(index) == 5
    assert ex["predicted"].shape == (ctl.settings.proxy_models, 5) and ex["iteration"] == 2
    # the answers are the report's: how many proxy networks got each image right
    assert torch.equal(ex["right"], ctl.report.correct[:, index].sum(0))
    for bad, match in (((10, 0), "cls"), ((0, 4), "group"), ((True, 0), "cls")):
        with pytest.raises(ValueError, match=match):
            ctl.cell_examples(*bad)
    for bad in (-1, ctl.settings.ipc, 1.5):
        with pytest.raises(ValueError, match="index"):
            ctl.synthetic_image(bad)


def test_picking_a_point_rings_it_and_a_cell_shows_its_test_images(digits_train, digits_test):
    from fairdd.widgets import Dashboard

    dash = Dashboard(train=digits_train, test=digits_test, warm_umap=False, **FAST)
    dash.step(2)
    plain = dash.panels["embedding"].body.spec
    assert dash.inspect_images["point"].value == b""
    dash.inspect["point"].value = 4
    ring = dash.panels["embedding"].body.spec["panels"][0]["layers"]
    assert dash.panels["embedding"].body.spec != plain and any(l.get("text") == "◆ 4" for l in ring)  # ringed
    assert dash.inspect_images["point"].value[:4] == b"\x89PNG" and "◆ 4" in dash.inspect_captions["point"].value
    assert dash.ctl.iteration == 2  # inspecting never steps or restarts
    dash.inspect["cell_class"].value = 1
    assert dash.inspect_cell.value == ""  # a class alone is not a cell
    dash.inspect["cell_group"].value = 2
    shown = dash.inspect_cell.value  # each test image with the last network's answer and the count right under it
    ex, m = dash.ctl.cell_examples(1, 2), dash.ctl.settings.proxy_models
    assert shown.count("<img class='fairdd-inspect-cell-image' src='data:image/png;base64,") == len(ex["index"]) > 0
    for j, right in enumerate(ex["right"].tolist()):
        answer = html.escape(str(dash.ctl.test.class_names[int(ex["predicted"][-1, j])]))
        assert f"{answer}<br>{'✓' if right == m else '✗' if right == 0 else '~'} {right}/{m}</figcaption>" in shown
    assert "proxy @ 2" in dash.inspect_captions["cell"].value and "'blue'" in dash.inspect_captions["cell"].value
    dash.step(2)  # the picked cell and point follow the run
    assert "proxy @ 4" in dash.inspect_captions["cell"].value and "iteration 4" in dash.inspect_captions["point"].value
    dash.controls["ipc"].value = 2  # a restart keeps the picks that still exist
    assert dash.inspect["point"].value is None and dash.inspect["cell_group"].value == 2


# ---------------------------------------------------------------------------- datasets
def test_dataset_dropdown_marks_missing_files_and_never_crashes(files, monkeypatch, tmp_path):
    import fairdd.datasets
    from fairdd.widgets import Dashboard

    only_bffhq = tmp_path / "data"
    write_bffhq(only_bffhq)
    monkeypatch.setenv("FAIRDD_DATA", str(only_bffhq))
    real = fairdd.datasets.availability

    def celeba_breaks(name, **kw):  # a loader failing in a way the registry does not expect
        if name == "celeba":
            raise RuntimeError("corrupt attribute file")
        return real(name, **kw)

    monkeypatch.setattr(fairdd.datasets, "availability", celeba_breaks)
    dash = Dashboard(warm_umap=False, **DIGITS, **FAST)
    labels = {v: k for k, v in dash.controls["dataset"].options}
    assert labels["bffhq"] == "bffhq" and labels["colored-digits"] == "colored-digits"
    for name in ("utkface", "cifar10-s", "celeba"):
        assert "unavailable" in labels[name], labels[name]
    assert "UTKFace files not found" in dash.unavailable_note.value
    assert "corrupt attribute file" in dash.unavailable_note.value
    dash.step(1)
    dash.controls["dataset"].value = "utkface"  # refused with the loader's reason; the run stays
    assert dash.controls["dataset"].value == "colored-digits" and dash.ctl.iteration == 1
    assert "UTKFace" in dash.error.value


@pytest.mark.parametrize("name, shape, groups", [
    ("utkface", (3, 4, 64), ("White", "Black", "Asian", "Indian")),
    ("bffhq", (2, 2, 64), ("gender 0", "gender 1")),
    ("cifar10-s", (10, 2, 32), ("grayscale", "color")),
])
def test_every_view_renders_on_the_file_fixtures(files, monkeypatch, name, shape, groups):
    from fairdd.widgets import Dashboard

    monkeypatch.setenv("FAIRDD_DATA", str(files))
    dash = Dashboard(warm_umap=False, ipc=2, **DIGITS, **FAST)  # the fixtures' smallest class has 6 images
    assert list(dash.controls["groups"].options) == ["red", "green", "blue", "yellow"]  # a colour set: choosable
    dash.controls["dataset"].value = name
    train = dash.ctl.train
    assert dash.ctl.error is None, dash.ctl.error
    assert (train.n_classes, train.n_groups, train.image_shape[-1]) == shape
    assert "groups" not in dash.controls and tuple(dash.group_boxes) == groups  # the dataset's own, not colours
    assert all(b.disabled for b in dash.group_boxes.values())  # fixed by the dataset
    assert "fixed by the dataset" in dash.groups_widget.children[0].value
    assert [v for _, v in dash.controls["view_class"].options] == list(range(shape[0]))
    dash.step(2)
    assert dash.ctl.iteration == 2 and dash.ctl.error is None, dash.ctl.error
    assert {k: dash.shown[k] for k in ("loss", "grid", "heatmap", "fairness", "embedding")} == dict.fromkeys(
        ("loss", "grid", "heatmap", "fairness", "embedding"), 2)
    for k in ("loss", "heatmap", "fairness", "embedding"):
        assert dash.panels[k].body.spec["key"] == f"{k}@2", k
    frame = dash.ctl.frames[-1]
    assert sum(k.startswith("mean:") for k in frame.extra_kind) == len(set(frame.real_groups.tolist()))
    dash.controls["view_class"].value = shape[0] - 1
    dash.inspect["point"].value = 0
    dash.inspect["cell_class"].value = shape[0] - 1
    dash.inspect["cell_group"].value = shape[1] - 1
    assert dash.inspect_images["point"].value[:4] == b"\x89PNG" and "fairdd-inspect-cell-image" in dash.inspect_cell.value
    assert dash.ctl.error is None and dash.ctl.iteration == 2
    dash.controls["dataset"].value = "colored-digits"  # back to a colour set: the palette is choosable again
    assert list(dash.controls["groups"].options) == ["red", "green", "blue", "yellow"]


def test_colour_groups_are_named_as_the_dataset_builds_them():
    """colored-mnist-5k is built on the papers' palette (red, orange, yellow, ...): the groups control
    offers those names, not the clean construction's colour list."""
    from fairdd.widgets import Dashboard

    dash = Dashboard(warm_umap=False, ipc=1, dataset="colored-mnist-5k", **FAST)
    assert list(dash.controls["groups"].options) == list(dash.ctl.train.group_names)
    keep = tuple(dash.ctl.train.group_names[:3])
    dash.controls["groups"].value = keep
    dash.apply_groups.click()
    assert dash.ctl.error is None and dash.ctl.train.group_names == keep
    assert len(dash.controls["groups"].options) == 10  # the whole palette stays on offer


# ---------------------------------------------------------------------------- clicks
def _layer(spec: dict, name: str, panel: int = 0) -> dict:
    return next(l for l in spec["panels"][panel]["layers"] if l.get("name") == name)


def test_clicking_a_point_or_a_cell_picks_it_like_the_drop_downs(digits_train, digits_test):
    """A click in the browser comes back as {name, index} or {row, col}: it picks like the drop-downs;
    the hover text of every ◆ and cell carries its numbers (drawn in the browser, no round trip)."""
    from fairdd.widgets import Dashboard

    dash = Dashboard(train=digits_train, test=digits_test, warm_umap=False, **FAST)
    dash.step(2)
    emb, heat = dash.panels["embedding"].body, dash.panels["heatmap"].body
    syn = _layer(emb.spec, "synthetic")
    assert len(syn["x"]) == dash.ctl.settings.ipc and "◆ 3 (cobra)" in syn["tips"][3]
    frame = dash.ctl.frames[-1]
    assert np.allclose(syn["x"], frame.extra_xy[[k == "synthetic" for k in frame.extra_kind], 0])
    emb._on_msg(emb, {"event": "click", "name": "synthetic", "index": 3}, [])
    assert dash.inspect["point"].value == 3 and "◆ 3" in dash.inspect_captions["point"].value
    assert dash.inspect_images["point"].value[:4] == b"\x89PNG"
    emb._on_msg(emb, {"event": "click", "name": "mean:red", "index": 0}, [])  # not a ◆: nothing picked
    assert dash.inspect["point"].value == 3
    cells = _layer(heat.spec, "cell")
    acc = dash.ctl.report.tpr.mean(0) * 100  # (C, G)
    assert abs(cells["values"][1][2] - float(acc[1, 2])) < 1e-6
    assert f"accuracy {float(acc[1, 2]):.1f} %" in cells["tips"][1][2] and "test images" in cells["tips"][1][2]
    heat._on_msg(heat, {"event": "click", "name": "cell", "row": 1, "col": 2}, [])
    assert (dash.inspect["cell_class"].value, dash.inspect["cell_group"].value) == (1, 2)
    assert "fairdd-inspect-cell-image" in dash.inspect_cell.value and "'blue'" in dash.inspect_captions["cell"].value
    assert dash.ctl.iteration == 2  # clicking never steps or restarts
    dash.controls["ipc"].value = 2  # a restart: the new view's ◆ are the clickable ones
    assert len(_layer(emb.spec, "synthetic")["x"]) == 2
