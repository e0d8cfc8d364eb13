"""fairdd.viz.plots: figures that read on a page (issue 23.5: notebook 01's toy plot was squashed)."""
import pytest


def test_the_toy_plot_keeps_equal_units_without_squashing_its_axes():
    """Equal units on both axes, obtained by widening the data limits, never by shrinking the axes box
    to a strip (``adjustable='box'`` squashed notebook 01's toy plot)."""
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from fairdd import toy
    from fairdd.viz import plots

    data = toy.make_toy(majority=0.9, separation=4.0, n_groups=3)
    fig, ax = plt.subplots(figsize=(7.5, 5))
    plots.plot_toy(ax, data, toy.toy_targets(data))
    fig.canvas.draw()
    box = ax.get_position()  # figure fraction, after the aspect is applied
    (x0, x1), (y0, y1) = ax.get_xlim(), ax.get_ylim()
    w_px, h_px = box.width * 7.5, box.height * 5
    assert h_px > 0.9 * 5 * 0.77 and w_px > 0.5 * 7.5 * 0.77  # the axes keep their subplot's height (box: 61 %)
    assert (x1 - x0) / w_px == pytest.approx((y1 - y0) / h_px, rel=0.02)  # one unit is as long on both axes
    plt.close(fig)
