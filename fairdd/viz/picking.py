"""From a pointer on a rendered PNG back to the plotted data: the pixel map recorded at render time.

A dashboard panel is a matplotlib figure saved as a PNG (tight bounding box, as ``plots.fig_to_png``)
and shown at some display size, which may differ from the PNG's natural size. ``render_png`` saves the
figure and records, for one axes, where its data coordinates land in the PNG (a ``PixelMap``);
``pointer_position`` reads a browser mouse event (ipyevents' dict) as a position in the PNG's natural
pixels; ``PixelMap.to_data`` maps it to data coordinates and ``nearest`` picks the point under the
pointer within a radius. No widgets here: everything is plain numbers, testable without a browser.
"""
from __future__ import annotations

import io
import struct
from dataclasses import dataclass

import numpy as np

__all__ = ["PixelMap", "nearest", "pointer_position", "render_png"]


@dataclass(frozen=True)
class PixelMap:
    """Where one linear axes' data coordinates land in a PNG (pixels from its top-left corner).

    ``x_px = left + (x - xlim[0]) / (xlim[1] - xlim[0]) * (right - left)`` and
    ``y_px = bottom - (y - ylim[0]) / (ylim[1] - ylim[0]) * (bottom - top)``; inverted axes (an
    ``imshow``'s rows) are covered by their limits' order.
    """

    width: int  # natural PNG size, px
    height: int
    xlim: tuple[float, float]  # data x at the axes' left and right edges
    ylim: tuple[float, float]  # data y at the axes' bottom and top edges
    box: tuple[float, float, float, float]  # the axes' left, top, right, bottom edges in PNG px

    def to_pixel(self, xy) -> np.ndarray:
        """Data coordinates (n, 2) or (2,) → natural PNG pixels, the same shape."""
        xy = np.asarray(xy, dtype=float)
        (x0, x1), (y0, y1) = self.xlim, self.ylim
        left, top, right, bottom = self.box
        px = left + (xy[..., 0] - x0) / (x1 - x0) * (right - left)
        py = bottom - (xy[..., 1] - y0) / (y1 - y0) * (bottom - top)
        return np.stack([px, py], axis=-1)

    def to_data(self, px) -> np.ndarray:
        """Natural PNG pixels (n, 2) or (2,) → data coordinates, the same shape (``to_pixel``'s inverse)."""
        px = np.asarray(px, dtype=float)
        (x0, x1), (y0, y1) = self.xlim, self.ylim
        left, top, right, bottom = self.box
        x = x0 + (px[..., 0] - left) / (right - left) * (x1 - x0)
        y = y0 + (bottom - px[..., 1]) / (bottom - top) * (y1 - y0)
        return np.stack([x, y], axis=-1)

    def inside(self, px) -> bool:
        """Whether a natural-pixel position (2,) falls inside the axes."""
        left, top, right, bottom = self.box
        return bool(left <= px[0] <= right and top <= px[1] <= bottom)


def png_size(png: bytes) -> tuple[int, int]:
    """(width, height) of PNG bytes, read from the IHDR header."""
    if png[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not PNG bytes")
    return struct.unpack(">II", png[16:24])


def render_png(fig, ax, *, dpi: int = 90, pad_inches: float = 0.1) -> tuple[bytes, PixelMap]:
    """Save ``fig`` as a tight PNG at ``dpi`` and close it; return the bytes and ``ax``'s ``PixelMap``.

    The tight box is computed here, at the saving dpi, and given to ``savefig``, so the crop the map
    is measured against is the crop of the PNG.
    """
    import matplotlib.pyplot as plt

    if ax.get_xscale() != "linear" or ax.get_yscale() != "linear":
        raise ValueError(f"render_png maps linear axes only; got x {ax.get_xscale()!r}, y {ax.get_yscale()!r}")
    fig.set_dpi(dpi)
    fig.draw_without_rendering()  # the layout (and any aspect adjustment) is final from here on
    tight = fig.get_tightbbox(fig.canvas.get_renderer()).padded(pad_inches).frozen()  # inches
    extent = ax.get_window_extent().frozen()  # display px at ``dpi`` from the figure's bottom-left; copied
    # now: savefig moves the figure's transforms while it crops
    xlim, ylim = tuple(map(float, ax.get_xlim())), tuple(map(float, ax.get_ylim()))
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches=tight)
    plt.close(fig)
    png = buf.getvalue()
    width, height = png_size(png)
    # the canvas grows from the bottom-left corner: measure y from the PNG's real (rounded) height
    x_off, y_top = tight.x0 * dpi, height + tight.y0 * dpi
    box = (extent.x0 - x_off, y_top - extent.y1, extent.x1 - x_off, y_top - extent.y0)
    return png, PixelMap(width, height, xlim, ylim, tuple(float(v) for v in box))


def pointer_position(event: dict, natural: tuple[int, int]) -> tuple[np.ndarray, float] | None:
    """An ipyevents mouse event on an ``Image`` → (position (2,) in natural PNG px, natural px per shown px).

    The event's ``relativeX/relativeY`` are display px from the image's top-left corner and
    ``boundingRectWidth/Height`` its shown size, so a PNG shown at half its natural size maps each
    display px to 2 natural px. Without those keys, ipyevents' ``dataX/dataY`` (already natural px) are
    used at scale 1. ``None`` when the event carries no position.
    """
    w, h = event.get("boundingRectWidth"), event.get("boundingRectHeight")
    if "relativeX" in event and w and h:
        sx, sy = natural[0] / float(w), natural[1] / float(h)
        return np.array([float(event["relativeX"]) * sx, float(event["relativeY"]) * sy]), (sx + sy) / 2
    if "dataX" in event:
        return np.array([float(event["dataX"]), float(event["dataY"])]), 1.0
    return None


def nearest(points_px, at, radius: float) -> int | None:
    """Index of the point (n, 2) nearest to ``at`` (2,), all in the same pixels, if within ``radius``."""
    points_px = np.asarray(points_px, dtype=float).reshape(-1, 2)
    if not len(points_px):
        return None
    d = np.linalg.norm(points_px - np.asarray(at, dtype=float), axis=1)  # (n,)
    i = int(d.argmin())
    return i if d[i] <= radius else None
