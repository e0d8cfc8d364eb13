import math

import torch

from fairdd import toy


def test_residual_table_is_one_rounded_row_per_class_and_group():
    data = toy.make_toy(majority=0.8, separation=3.0, n_groups=3)
    targets = toy.toy_targets(data)
    table = toy.residual_table(data, {k: targets[k] for k in ("vanilla", "cobra")}, decimals=2)
    assert list(table.columns) == ["vanilla", "cobra", "bound"] and len(table) == data.n_classes * 3
    want = toy.toy_residuals(data, targets["vanilla"])[1, 2].item()
    assert table.loc[(1, 2), "vanilla"] == round(want, 2)
    assert all(v == round(v, 2) for v in table.to_numpy().ravel() if not math.isnan(v))  # no float32 tails
    assert torch.allclose(torch.tensor(table["bound"].to_numpy()),
                          toy.bias_bound(data).reshape(-1).double(), atol=0.005)
