import pandas as pd

from fairdd.viz import paper


def test_latex_table_bolds_the_best_and_formats_mean_std():
    rows = {"vanilla": {"accuracy": 30.0, "eod": 100.0, "deo_a": 90.0, "worst_group_accuracy": 10.0,
                        "std": {"accuracy": 1.0, "eod": 0.0, "deo_a": 2.0, "worst_group_accuracy": 0.5}},
            "cobra": {"accuracy": 76.25, "eod": 27.5, "deo_a": 15.0, "worst_group_accuracy": 70.0,
                      "std": {"accuracy": 0.5, "eod": 3.0, "deo_a": 1.0, "worst_group_accuracy": 1.0}}}
    table = paper.summary_table(rows)
    assert list(table.index) == ["vanilla", "cobra"] and table.loc["cobra", "eod_std"] == 3.0
    tex = paper.latex_table(table, caption="c")
    assert r"\textbf{76.25 $\pm$ 0.50}" in tex and r"\textbf{27.50 $\pm$ 3.00}" in tex
    assert "30.00 $\\pm$ 1.00" in tex and tex.count(r"\\") == 3  # header + two rows
    assert tex.startswith(r"\begin{table}") and r"\label{tab:fairdd}" in tex
    assert "noise floor" not in tex  # no floor known: no footnote


def test_latex_table_footnotes_the_eod_noise_floor(digits_train, digits_test):
    import fairdd

    result = fairdd.distill(digits_train, target="cobra", ipc=1, preset="smoke", device="cpu", depth=2)
    report = fairdd.evaluate(result, digits_test, preset="smoke", n_models=1, device="cpu", depth=2)
    table = paper.summary_table({"cobra_w": report, "old": {"accuracy": 1.0, "eod": 2.0, "deo_a": 3.0,
                                                            "worst_group_accuracy": 0.5, "noise_floor_eod": 44.44}})
    assert table.loc["cobra_w", "eod_floor"] == report.noise_floor()["eod"]
    tex = paper.latex_table(table)
    assert (f"EOD noise floor (a perfectly fair model of the same per-class accuracy, on this test set): "
            f"cobra\\_w {report.noise_floor()['eod']:.1f}, old 44.4.") in tex


def test_save_figure_writes_vector_files(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    paper.paper_style()
    fig, ax = plt.subplots()
    ax.plot([0, 1], [0, 1])
    paths = paper.save_figure(fig, tmp_path / "f")
    assert [p.suffix for p in paths] == [".pdf", ".svg"]
    assert paths[0].read_bytes()[:4] == b"%PDF" and b"<svg" in paths[1].read_bytes()


def _rows(n_models=3):
    return {"vanilla": {"accuracy": 30.0, "eod": 100.0, "deo_a": 90.0, "worst_group_accuracy": 10.0,
                        "n_models": n_models, "std": {"accuracy": 1.0, "eod": 0.0, "deo_a": 2.0}},
            "cobra": {"accuracy": 76.25, "eod": 27.5, "deo_a": 15.0, "worst_group_accuracy": 70.0,
                      "n_models": n_models, "std": {"accuracy": 0.5, "eod": 3.0, "deo_a": 1.0}}}


def test_latex_table_gives_one_unit_for_eod_and_says_what_the_spread_is():
    tex = paper.latex_table(paper.summary_table(_rows(n_models=3)))
    assert r"EOD (pp)" in tex and r"DEO$_A$ (pp)" in tex and "EOD (\\%)" not in tex
    assert "Mean $\\pm$ std over 3 evaluation models (not a confidence interval)" in tex
    assert "percentage points" in tex


def test_accuracy_eod_figure_labels_units_and_error_bars():
    fig = paper.accuracy_eod_figure(paper.summary_table(_rows(n_models=5)))
    labels = [ax.get_ylabel() for ax in fig.axes]
    assert labels == ["accuracy (%)", "EOD (pp)"]
    assert fig._supxlabel.get_text() == "error bars: ± 1 std over 5 evaluation models"
    assert fig.canvas.manager is None  # a bare Figure: a notebook shows it once, when it is returned


def test_table_caption_is_derived_from_the_result_not_hard_coded(digits_train):
    import fairdd

    result = fairdd.distill(digits_train, target="cobra", ipc=1, preset="smoke", device="cpu", depth=2, iterations=1)
    text = paper.caption(result)
    info = digits_train.info
    assert text.startswith(f"{info['name']} ({info['mode']}, bias {info['bias']}") and "IPC 1, DM, preset smoke" in text
    assert "Colored MNIST" not in text and "IPC 10" not in text
    assert paper.caption(result, n_models=4).endswith("Mean ± std over 4 evaluation models.")


def test_metrics_chart_draws_the_demo_metrics_and_never_replaces_a_users_file(tmp_path):
    import pytest
    from PIL import Image

    metrics = {"random": {"accuracy": 40.0, "eod": 60.0, "std": {"accuracy": 1.0, "eod": 2.0},
                          "noise_floor": {"eod": 20.0}, "n_models": 3},
               "cobra": {"accuracy": 70.0, "eod": 25.0, "std": {"accuracy": 0.5, "eod": 1.5}, "n_models": 3}}
    path = paper.metrics_chart(tmp_path / "metrics.png", metrics)
    assert path == tmp_path / "metrics.png"
    image = Image.open(path).convert("RGB")
    assert image.size[0] > 2 * image.size[1]  # two panels side by side
    assert len(image.getcolors(maxcolors=1 << 16)) > 8  # bars, error bars, text: not a blank figure
    paper.metrics_chart(path, metrics)  # fairdd's own file: replaced
    (tmp_path / "mine.png").write_bytes(b"not fairdd's")
    with pytest.raises(FileExistsError, match="mine.png"):
        paper.metrics_chart(tmp_path / "mine.png", metrics)
    assert (tmp_path / "mine.png").read_bytes() == b"not fairdd's"
