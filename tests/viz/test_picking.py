"""A pointer on a rendered panel maps back to the plotted data: a marker drawn at data (x, y) at a known
dpi is found in the PNG where ``PixelMap.to_pixel`` says (within 1 px), maps back to (x, y), and does so
too when the browser shows the PNG at half its natural size."""
import io

import numpy as np
import pytest

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")

from PIL import Image

from fairdd.viz import plots
from fairdd.viz.picking import PixelMap, nearest, pointer_position, render_png

MARK = (0.7, -0.4)  # data coordinates of the red square


def _figure(dpi_scale: float = 1.0):
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4.8 * dpi_scale, 3.6))
    rng = np.random.default_rng(0)
    ax.scatter(*rng.normal(size=(2, 60)), s=6, color="0.75")
    ax.scatter(*MARK, s=30, marker="s", color="red", linewidths=0)
    ax.scatter([], [], label="a legend outside the axes")
    ax.legend(loc="center left", bbox_to_anchor=(1, 0.5))  # the tight crop is not the axes' box
    ax.set_title("a title")
    return fig, ax


def _red_centre(png: bytes) -> np.ndarray:
    """The red square's centre in the PNG, px from the top-left corner (pixel i spans [i, i + 1))."""
    rgb = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)  # (H, W, 3)
    ys, xs = ((rgb[..., 0] > 200) & (rgb[..., 1] < 60) & (rgb[..., 2] < 60)).nonzero()
    assert len(xs) > 4, "the marker was not drawn"
    return np.array([xs.mean() + 0.5, ys.mean() + 0.5])


@pytest.mark.parametrize("dpi", [72, 90, 144])
def test_a_drawn_point_maps_back_from_its_rendered_pixel(dpi):
    fig, ax = _figure()
    png, pm = render_png(fig, ax, dpi=dpi)
    assert (pm.width, pm.height) == Image.open(io.BytesIO(png)).size
    centre = _red_centre(png)
    assert np.abs(pm.to_pixel(MARK) - centre).max() <= 1.0, (pm.to_pixel(MARK), centre)
    per_px = np.abs([np.diff(pm.xlim)[0] / (pm.box[2] - pm.box[0]), np.diff(pm.ylim)[0] / (pm.box[3] - pm.box[1])])
    assert (np.abs(pm.to_data(centre) - MARK) <= per_px).all()  # back to (x, y) within 1 px of data units
    # the browser shows it at half size: the event's display px scale back to natural px
    event = {"type": "click", "relativeX": centre[0] / 2, "relativeY": centre[1] / 2,
             "boundingRectWidth": pm.width / 2, "boundingRectHeight": pm.height / 2}
    at, scale = pointer_position(event, (pm.width, pm.height))
    assert scale == pytest.approx(2.0) and np.abs(at - centre).max() <= 1e-9
    assert np.abs(pm.to_pixel(pm.to_data(at)) - at).max() < 1e-9


def test_render_png_is_the_dashboards_png():
    png, _ = render_png(*_figure())
    assert png == plots.fig_to_png(_figure()[0])  # the same crop as fig_to_png: the panels look as before


def test_an_inverted_axes_and_the_natural_pixel_fallback():
    pm = PixelMap(width=200, height=100, xlim=(-0.5, 3.5), ylim=(1.5, -0.5), box=(0.0, 0.0, 200.0, 100.0))
    assert np.allclose(pm.to_pixel([0, 0]), [25, 25]) and np.allclose(pm.to_data([175, 75]), [3, 1])
    at, scale = pointer_position({"dataX": 30, "dataY": 40}, (200, 100))
    assert scale == 1.0 and np.allclose(at, [30, 40])
    assert pointer_position({"type": "mouseleave"}, (200, 100)) is None
    assert pm.inside([10, 10]) and not pm.inside([210, 10])


def test_nearest_within_a_radius():
    pts = np.array([[10.0, 10.0], [50.0, 10.0]])
    assert nearest(pts, [48, 12], radius=5) == 1
    assert nearest(pts, [30, 10], radius=5) is None
    assert nearest(np.zeros((0, 2)), [0, 0], radius=5) is None


def test_log_axes_are_refused():
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    ax.set_yscale("log")
    with pytest.raises(ValueError, match="linear axes only"):
        render_png(fig, ax)
    plt.close(fig)
