"""The dataset record and its registry: checked fields, the catalog's records against their loaders."""
from __future__ import annotations

import importlib
import pkgutil

import pytest

import fairdd
from fairdd.data import catalog
from fairdd.data.record import DATASETS, DatasetRecord, record, records, register, unregister


def _loader(*, split="train", bias=0.9, seed=0):
    raise AssertionError("never loaded here")


def _record(**changes) -> DatasetRecord:
    fields = dict(name="toy", loader=_loader, classes=("a", "b"), group_attribute="g", groups=("x", "y"),
                  image_size=8)
    return DatasetRecord(**{**fields, **changes})


@pytest.mark.parametrize("changes, error, match", [
    (dict(name="Toy"), ValueError, "lower-case name; got 'Toy'"),
    (dict(name=""), ValueError, "non-empty lower-case name"),
    (dict(name="folder:x"), ValueError, "must not start with 'folder:'"),
    (dict(loader=lambda bias=0.9: None), TypeError, "must be a callable taking split="),
    (dict(loader="load_toy"), TypeError, "must be a callable taking split="),
    (dict(classes=()), TypeError, "classes must be a non-empty tuple of names; got \\(\\)"),
    (dict(groups=["x", "y"]), TypeError, "groups must be a non-empty tuple of names"),
    (dict(group_attribute=""), TypeError, "group_attribute must be a non-empty str"),
    (dict(image_size=0), ValueError, "image_size must be a positive integer; got 0"),
    (dict(channels=True), ValueError, "channels must be a positive integer; got True"),
    (dict(train_size=-5), ValueError, "train_size must be a positive integer or None; got -5"),
    (dict(idc_factor=((2, 4),)), ValueError, "idc_factor must be \\(\\(1, factor\\)"),
    (dict(idc_factor=((1, 4), (100, 3), (50, 2))), ValueError, "rising IPCs"),
    (dict(idc_factor=((1, 0),)), ValueError, "positive factors"),
    (dict(downloadable=True), ValueError, "downloadable but its loader takes no download="),
])
def test_a_record_refuses_a_bad_field_by_name(changes, error, match):
    with pytest.raises(error, match=match):
        _record(**changes)


def test_a_record_reads_its_knobs_and_idc_factor_from_its_fields():
    entry = _record(idc_factor=((1, 4), (100, 3)))
    assert entry.knobs == {"bias": 0.9, "seed": 0} and entry.n_classes == 2 and not entry.needs_files
    assert [entry.idc_factor_at(ipc) for ipc in (1, 10, 99, 100, 500)] == [4, 4, 4, 3, 3]
    assert _record().idc_factor_at(100) == 2


def test_the_registry_refuses_a_second_record_of_a_name_and_follows_registrations():
    before = tuple(DATASETS)
    with pytest.raises(ValueError, match="dataset 'celeba' is registered already; pass replace=True"):
        register(_record(name="celeba"))
    with pytest.raises(TypeError, match="register takes a DatasetRecord; got dict"):
        register({"name": "toy"})
    register(_record())
    try:
        assert "toy" in DATASETS and DATASETS == before + ("toy",) and DATASETS[-1] == "toy"
        assert record("TOY").name == "toy" and fairdd.datasets.options("toy") == ("bias", "seed")
    finally:
        unregister("toy")
    assert DATASETS == before and "toy" not in DATASETS
    with pytest.raises(ValueError, match="unknown dataset name 'toy'; registered: "):
        unregister("toy")
    with pytest.raises(ValueError, match="unknown dataset name 3; allowed: "):
        record(3)


def test_every_catalog_module_defines_the_record_of_one_dataset():
    modules = [m.name for m in pkgutil.iter_modules(catalog.__path__) if not m.name.startswith("_")]
    names = [importlib.import_module(f"fairdd.data.catalog.{m}").RECORD.name for m in modules]
    assert [n.replace("-", "_") for n in names] == modules  # one file per dataset, named after it
    assert set(names) == {r.name for r in records()} == {"colored-mnist", "colored-mnist-5k", "colored-fashion-mnist",
                                                          "colored-digits", "cifar10-s", "celeba", "utkface", "bffhq"}


@pytest.mark.parametrize("name", ["colored-digits", "colored-mnist-5k", "colored-fashion-mnist"])
def test_a_shipped_record_says_what_its_loader_builds(name):
    entry = record(name)
    try:
        test = fairdd.datasets.load(name, split="test")
    except FileNotFoundError:
        pytest.skip(f"{name}'s files are not on this machine")
    assert test.class_names == entry.classes and test.group_names == entry.groups
    assert tuple(test.images.shape[1:]) == (entry.channels, entry.image_size, entry.image_size)
    if entry.train_size <= 5000:  # the full 60000-image sets take a while to colour
        assert len(fairdd.datasets.load(name, split="train")) == entry.train_size


def test_the_idc_factor_follows_train_idc_s_dataset_list():
    # COBRA train_idc.py: `if args.dataset in ("BFFHQ", "UTKface"): factor = 3 if ipc >= 100 else 4; else 2`
    factor_4 = {r.name for r in records() if r.idc_factor != ((1, 2),)}
    assert factor_4 == {"utkface", "bffhq"} and record("utkface").idc_factor == ((1, 4), (100, 3))
    assert record("celeba").idc_factor_at(10) == 2


def test_the_idc_exceptions_group_datasets_by_their_factor_steps():
    from fairdd.data.record import idc_factor_exceptions

    register(_record(name="toy", title="Toy", idc_factor=((1, 3),)))
    try:
        assert idc_factor_exceptions() == "BFFHQ, UTKFace 4; 3 at IPC ≥ 100; Toy 3"
    finally:
        unregister("toy")
    assert record("celeba").display == "CelebA" and _record().display == "toy"


class _Point:
    def __init__(self, name, value):
        self.name, self.value = name, value

    def load(self):
        if self.value == "missing:RECORD":
            raise ModuleNotFoundError("No module named 'missing'")
        return self.value


def test_installed_packages_register_records_through_entry_points(monkeypatch):
    points = [_Point("toy", _record()), _Point("broken", "missing:RECORD"), _Point("wrong", {"name": "x"})]
    monkeypatch.setattr(catalog, "entry_points", lambda group: points if group == "fairdd.datasets" else [])
    try:
        with pytest.warns(UserWarning) as caught:
            catalog._register_entry_points()
        assert "toy" in DATASETS
    finally:
        unregister("toy")
    messages = [str(w.message) for w in caught]
    assert len(messages) == 2 and "'broken' (missing:RECORD) not registered: ModuleNotFoundError" in messages[0]
    assert "'wrong'" in messages[1] and "not a DatasetRecord" in messages[1]
