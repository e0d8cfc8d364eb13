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
