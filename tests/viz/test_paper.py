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
