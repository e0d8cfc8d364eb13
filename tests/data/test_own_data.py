"""fairdd.data.own / own_sources: your own data in the layouts it ships in, and errors in its own words."""
import os
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import fairdd
from fairdd.datasets import describe, from_arrays, from_folder, from_image_folder, from_torchvision

sys.path.insert(0, str(Path(__file__).parent))
from own_fixtures import (FAIRFACE_RACES, colour_image, write_fairface, write_image_folder,  # noqa: E402
                          write_waterbirds)


@pytest.fixture
def birds(tmp_path):
    return write_waterbirds(tmp_path / "waterbirds")


def _load(root, tmp_path, **kw):
    return from_folder(root, size=8, cache_dir=tmp_path / "cache", **kw)


# ----------------------------------------------------------------------------- layouts
def test_waterbirds_layout_splits_ids_and_normalisation(birds, tmp_path):
    train, test = _load(birds, tmp_path), _load(birds, tmp_path, split="test")
    assert train.counts().iloc[:, :2].to_numpy().tolist() == [[6, 2], [2, 6]]  # as written (split 0)
    assert test.cell_counts().tolist() == [[3, 3], [3, 3]]  # split 2 by name through split_values
    assert _load(birds, tmp_path, split=2).cell_counts().tolist() == test.cell_counts().tolist()  # raw value
    assert len(_load(birds, tmp_path, split="val")) == 4 and len(_load(birds, tmp_path, split=None)) == 32
    assert train.class_names == test.class_names == ("0", "1") and train.group_names == ("0", "1")
    assert train.mean == test.mean and train.info["mean"] == list(train.mean)
    # the recorded normalisation is the data's: undoing it gives the pixel mean of every image of the table
    every = _load(birds, tmp_path, split=None).display()  # (N, 3, 8, 8) in [0, 1]
    assert np.allclose(every.mean((0, 2, 3)).numpy(), train.mean, atol=2e-3)
    # red channel encodes the class, blue the group (own_fixtures.colour_image): ids follow the values
    red = train.display()[:, 0].mean((1, 2))
    assert bool((red[train.labels == 1] > red[train.labels == 0].max()).all())
    from fairdd.evaluate import test_set_differences

    assert test_set_differences(train.describe(), test) == []  # evaluate accepts it as this training set's test set


def test_fairface_layout_one_label_csv_per_split(tmp_path):
    root = write_fairface(tmp_path / "fairface")
    files = {"train": "fairface_label_train.csv", "test": "fairface_label_val.csv"}
    train = _load(root, tmp_path, metadata=files, image="file", label="gender", group="race")
    test = _load(root, tmp_path, metadata=files, image="file", label="gender", group="race", split="test")
    assert train.class_names == ("Female", "Male") and set(train.group_names) == set(FAIRFACE_RACES)
    assert test.cell_counts().tolist() == [[3, 3, 3], [3, 3, 3]]
    assert int(train.cell_counts().sum()) == 18 + 4


def test_image_folder_with_a_group_function_draws_a_balanced_test_set(tmp_path):
    root = write_image_folder(tmp_path / "pets", per_cell=10)
    def setting(path):
        return path.rsplit("_", 1)[1].removesuffix(".png")
    kw = dict(group=setting, size=8, cache_dir=tmp_path / "cache", seed=3)
    train, test = from_image_folder(root, **kw), from_image_folder(root, split="test", **kw)
    assert train.class_names == ("cat", "dog") and train.group_names == ("indoor", "outdoor")
    assert test.cell_counts().tolist() == [[2, 2], [2, 2]] and test.info["test_per_cell"] == 2  # a fifth of 10
    assert train.cell_counts().tolist() == [[8, 8], [8, 8]]  # the rest: disjoint from the test set
    again = from_image_folder(root, split="test", **kw)
    assert torch.equal(again.images, test.images)  # the recorded seed gives the same draw
    other = from_image_folder(root, split="test", **{**kw, "seed": 4})
    assert not torch.equal(other.images, test.images)


def test_image_folder_with_a_group_column(tmp_path):
    root = write_image_folder(tmp_path / "pets")
    train = _load(root, tmp_path, metadata="groups.csv", image="file", label=None, group="setting",
                  split_column=None)
    assert train.class_names == ("cat", "dog") and train.group_names == ("indoor", "outdoor")
    assert train.info["split"] == "train" and train.info["test_per_cell"] == 1


def test_from_arrays_keeps_ids_and_accepts_channels_first_floats():
    rng = np.random.RandomState(0)
    x = rng.rand(40, 3, 10, 10).astype(np.float32)  # (N, C, H, W) floats in [0, 1]
    y = np.repeat(["b", "a"], 20)
    g = np.tile([2, 10], 20)
    ds = from_arrays(x, y, g, split=None, size=8)
    assert ds.class_names == ("a", "b") and ds.group_names == ("2", "10")  # numbers by value, not as text
    assert ds.image_shape == (3, 8, 8) and ds.cell_counts().tolist() == [[10, 10], [10, 10]]
    assert torch.equal(ds.labels, torch.from_numpy((y == "b").astype(np.int64)))


class FakeTorchvision:
    """The torchvision dataset interface: ``len``, ``ds[i] → (PIL image, int target)``, ``classes``."""

    classes = ["airplane", "bird"]

    def __init__(self, n: int = 12, seed: int = 0):
        rng = np.random.RandomState(seed)
        self.targets = [i % 2 for i in range(n)]
        self.groups = [(i // 2) % 2 for i in range(n)]
        self.items = [colour_image(t, g, rng) for t, g in zip(self.targets, self.groups)]

    def __len__(self):
        return len(self.items)

    def __getitem__(self, i):
        return self.items[i], self.targets[i]


def test_split_column_of_names_and_custom_codes(tmp_path):
    x = np.zeros((16, 4, 4), np.uint8)
    y, g = [0, 1] * 8, [0, 0, 0, 0, 1, 1, 1, 1] * 2
    named = from_arrays(x, y, g, splits=["train", "train", "test", "test"] * 4, split="test")
    assert len(named) == 8 and named.info["split_value"] == "test"  # a name that is a value matches directly
    coded = from_arrays(x, y, g, splits=["A", "A", "B", "B"] * 4, split="test",
                        split_values={"train": "A", "test": "B"})
    assert len(coded) == 8 and coded.info["split_value"] == "B"
    with pytest.raises(ValueError, match=r"split 'test' \(nor its code 2 in split_values .*\) is not a value"):
        from_arrays(x, y, g, splits=["A", "B"] * 8, split="test")


class TensorTorchvision(FakeTorchvision):
    """The same with a ToTensor transform: images are (C, H, W) float tensors in [0, 1]."""

    def __getitem__(self, i):
        return torch.from_numpy(np.array(self.items[i])).permute(2, 0, 1).float() / 255, self.targets[i]


def test_from_torchvision_with_a_group_sequence_and_a_split_mapping():
    tr, te = FakeTorchvision(12), FakeTorchvision(8, seed=1)
    train = from_torchvision({"train": tr, "test": te}, group=tr.groups + te.groups, size=8)
    test = from_torchvision({"train": tr, "test": te}, group=tr.groups + te.groups, size=8, split="test")
    assert train.class_names == ("airplane", "bird") and len(train) == 12 and len(test) == 8
    assert test.cell_counts().tolist() == [[2, 2], [2, 2]]
    by_image = from_torchvision(tr, group=lambda im, t: "blue" if np.asarray(im)[..., 2].mean() > 100 else "dim",
                                size=8, split=None)
    assert by_image.cell_counts().tolist() == [[3, 3], [3, 3]]
    tensors = from_torchvision(TensorTorchvision(12), group=tr.groups, size=8, split=None)
    assert torch.allclose(tensors.images, from_torchvision(tr, group=tr.groups, size=8, split=None).images)


def test_from_huggingface_reads_class_labels_through_the_library():
    hf = pytest.importorskip("datasets", reason="the huggingface extra is not installed")
    rng = np.random.RandomState(0)
    feats = hf.Features({"img": hf.Image(), "label": hf.ClassLabel(names=["cat", "dog"]), "skin": hf.Value("string")})
    rows = {"img": [colour_image(i % 2, (i // 2) % 2, rng) for i in range(20)], "label": [i % 2 for i in range(20)],
            "skin": [("light", "dark")[(i // 2) % 2] for i in range(20)]}
    data = hf.Dataset.from_dict(rows, features=feats)
    ds = fairdd.datasets.from_huggingface(data, image="img", group="skin", size=8, split=None)
    assert ds.class_names == ("cat", "dog") and ds.group_names == ("dark", "light")
    assert ds.cell_counts().tolist() == [[5, 5], [5, 5]]
    both = hf.DatasetDict({"train": data, "test": data.select(range(8))})
    assert len(fairdd.datasets.from_huggingface(both, image="img", group="skin", size=8, split="test")) == 8
    coded = data.cast_column("skin", hf.ClassLabel(names=["dark", "light"])).map(
        lambda row, i: {"skin": -1 if i == 0 else row["skin"]}, with_indices=True)  # ClassLabel's "no label"
    assert int((~fairdd.datasets.from_huggingface(coded, image="img", group="skin", size=8, split=None).known).sum()) == 1
    with pytest.raises(ValueError, match=r"no column for \{'group': 'race'\}.*'skin'"):
        fairdd.datasets.from_huggingface(data, image="img", group="race")


# ----------------------------------------------------------------------------- checks in the user's words
def test_missing_columns_are_listed(birds, tmp_path):
    with pytest.raises(ValueError, match=r"metadata.csv has no column for group='race'; its columns are .*'place'"):
        _load(birds, tmp_path, group="race")
    with pytest.raises(ValueError, match=r"no column for split_column='fold'.*pass split_column=None"):
        _load(birds, tmp_path, split_column="fold")
    with pytest.raises(FileNotFoundError, match=r"labels.csv not found; table files in .*metadata.csv"):
        _load(birds, tmp_path, metadata="labels.csv")


def test_a_spreadsheet_export_with_a_byte_order_mark_and_spaces_reads(birds, tmp_path):
    meta = birds / "metadata.csv"
    rows = [line.split(",")[1:5] for line in meta.read_text().splitlines()]  # img_filename first
    rows[0] = [f" {name} " for name in rows[0]]  # " img_filename , y , ..."
    meta.write_bytes(b"\xef\xbb\xbf" + "\n".join(",".join(r) for r in rows).encode() + b"\n")
    assert _load(birds, tmp_path).cell_counts().tolist() == [[6, 2], [2, 6]]


def test_unknown_split_lists_the_values(birds, tmp_path):
    with pytest.raises(ValueError, match=r"split 'holdout' is not a value of column 'split' of metadata.csv; "
                                         r"its values are \['0', '1', '2'\]"):
        _load(birds, tmp_path, split="holdout")
    with pytest.raises(ValueError, match=r"split 7 is not a value"):
        _load(birds, tmp_path, split=7)


def test_unreadable_and_missing_images_are_named(birds, tmp_path):
    bad = next((birds / "002.Laysan_Sparrow").iterdir())
    bad.write_bytes(b"not an image")
    with pytest.raises(ValueError, match=rf"1 image file\(s\) named in column 'img_filename' of metadata.csv .*"
                                         rf"could not be read: 002.Laysan_Sparrow/{bad.name}"):
        _load(birds, tmp_path)
    bad.unlink()
    with pytest.raises(FileNotFoundError, match=rf"are not under .*{bad.name}"):
        _load(birds, tmp_path)


def test_class_or_group_without_samples_in_the_split(tmp_path):
    root = write_waterbirds(tmp_path / "wb", per_cell={0: {(0, 0): 3, (0, 1): 3}, 2: {(0, 0): 2, (0, 1): 2,
                                                                                      (1, 0): 2, (1, 1): 2}})
    with pytest.raises(ValueError, match=r"class value\(s\) \['1'\] of column 'y' have no samples in "
                                         r"metadata.csv split 'train'"):
        _load(root, tmp_path)


def test_empty_test_cell_names_the_cell(tmp_path):
    root = write_waterbirds(tmp_path / "wb", per_cell={0: {(0, 0): 3, (0, 1): 3, (1, 0): 3, (1, 1): 3},
                                                       2: {(0, 0): 2, (0, 1): 2, (1, 0): 2}})
    assert len(_load(root, tmp_path)) == 12  # the training split may lack nothing here
    with pytest.raises(ValueError, match=r"test split 'test' of metadata.csv has no samples in 1 \(class, group\) "
                                         r"cell\(s\) of column 'y' × column 'place': \('1', '1'\)"):
        _load(root, tmp_path, split="test")


def test_missing_group_values_take_the_partial_label_path(birds, tmp_path):
    meta = birds / "metadata.csv"
    lines = meta.read_text().splitlines()
    for i in (1, 2, 3):  # three training rows lose their place
        cells = lines[i].split(",")
        cells[4] = ""
        lines[i] = ",".join(cells)
    meta.write_text("\n".join(lines) + "\n")
    train = _load(birds, tmp_path)
    assert train.known is not None and int((~train.known).sum()) == 3 and len(train) == 16
    with pytest.raises(ValueError, match="3 training samples have no group label"):
        fairdd.distill(train, target="cobra", ipc=1, preset="smoke", device="cpu")
    filled = fairdd.data.infer_groups(train)
    assert filled.fully_labelled
    assert "3 training image(s) have no group label" in str(describe(train))
    inferred = _load(birds, tmp_path, missing_groups="infer")  # the same at load time (CLI: --missing-groups)
    assert inferred.fully_labelled and torch.equal(inferred.groups[train.known], train.groups[train.known])
    test = _load(birds, tmp_path, missing_groups="infer", split="test")
    from fairdd.evaluate import test_set_differences

    assert test_set_differences(inferred.describe(), test) == []
    with pytest.raises(ValueError, match=r"missing_groups must be one of \['keep', 'infer'\]; got 'drop'"):
        _load(birds, tmp_path, missing_groups="drop")


def test_more_groups_than_the_palette(tmp_path):
    x = np.zeros((24, 4, 4, 3), dtype=np.uint8)
    with pytest.raises(ValueError, match=r"groups of arrays has 12 distinct values .* more than the 10 colours"):
        from_arrays(x, [0, 1] * 12, list(range(12)) * 2, split=None)
    assert from_arrays(x, [0, 1] * 12, list(range(12)) * 2, split=None, max_groups=12).n_groups == 12


def test_bad_options_name_the_value(birds, tmp_path):
    with pytest.raises(ValueError, match="crop must be one of"):
        _load(birds, tmp_path, crop="middle")
    with pytest.raises(ValueError, match="size must be an integer"):
        from_folder(birds, size=2.5)
    with pytest.raises(FileNotFoundError, match="dataset folder .*nowhere not found"):
        from_folder(tmp_path / "nowhere")
    with pytest.raises(ValueError, match=r"labels must hold one value per image \(4\); got 3"):
        from_arrays(np.zeros((4, 4, 4), np.uint8), [0, 1, 0], [0, 0, 1, 1])


# ----------------------------------------------------------------------------- cache and registry
def test_decoded_images_are_cached_and_rebuilt_when_a_file_changes(birds, tmp_path):
    first = _load(birds, tmp_path)
    assert first.info["cache_hit"] is False and _load(birds, tmp_path).info["cache_hit"] is True
    assert _load(birds, tmp_path, split="test").info["cache_hit"] is True  # one entry for every split
    assert _load(birds, tmp_path, crop="none").info["cache_hit"] is False  # other options: other entry
    img = birds / "metadata.csv"
    name = img.read_text().splitlines()[1].split(",")[1]
    colour_image(1, 1, np.random.RandomState(9)).save(birds / name, quality=95)
    os.utime(birds / name, ns=(1, 1))
    again = _load(birds, tmp_path)
    assert again.info["cache_hit"] is False and not torch.equal(again.images, first.images)


def test_folder_datasets_load_by_name_with_their_knobs(birds, tmp_path):
    name = f"folder:{birds}"
    assert {"metadata", "label", "group", "split_column", "size"} <= set(fairdd.datasets.options(name))
    ds = fairdd.datasets.load(name, split="test", size=8, cache_dir=str(tmp_path / "c"))
    assert ds.info["name"] == name and ds.cell_counts().tolist() == [[3, 3], [3, 3]]
    with pytest.raises(ValueError, match="names no folder"):
        fairdd.datasets.load("folder:")


def test_card_counts_imbalance_and_noise_floor(birds, tmp_path):
    train, test = _load(birds, tmp_path), _load(birds, tmp_path, split="test")
    card = train.card(test, ipc=3)
    assert card.imbalance == {"0": 3.0, "1": 3.0} and card.counts == [[6, 2], [2, 6]]
    floor = fairdd.metrics.noise_floor(torch.tensor([[3, 3], [3, 3]]), 0.7)
    assert card.noise_floor[0.7]["eod"] == pytest.approx(float(floor["eod"]), abs=0.01)
    assert any("('0', '1') has 2 image(s), fewer than ipc=3" in p for p in card.problems)
    assert "EOD noise floor" in str(card) and "<table" in card._repr_html_()


def test_the_shipped_example_loads_with_the_defaults(tmp_path):
    train = from_folder(fairdd.datasets.example_folder(), cache_dir=tmp_path)
    test = from_folder(fairdd.datasets.example_folder(), split="test", cache_dir=tmp_path)
    assert train.counts()["total"].tolist() == [60, 60, 60] and test.cell_counts().min() == 10
    card = describe(train, test)
    assert max(card.imbalance.values()) == 6.5 and not card.problems
