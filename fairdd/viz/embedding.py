"""2-D views of embeddings that stay put from frame to frame (UMAP + Procrustes), and replays.

A live view re-fits UMAP on the *real* points of each frame, starting from the previous layout,
then rotates/scales/translates the new layout onto the previous one (orthogonal Procrustes fitted
on the real points) so nothing jumps; extra points (group means, barycenter, synthetic images) are
placed among their nearest real points (``place_among``) and moved by the same Procrustes map.
Replays lay all recorded frames out jointly with ``umap.AlignedUMAP``.

The exact nearest neighbours are computed here (numpy) and handed to UMAP, and the extra points are
not ``transform``-ed: UMAP's own neighbour search and ``transform`` compile with numba in every process
(7.3 + 2.7 s of a 10 s warm-up on a 2-core Xeon, Dec 2026), and that compilation shared the dashboard's
spare core with its proxy evaluations.
"""
from __future__ import annotations

import time
import warnings
from dataclasses import dataclass, field

import numpy as np

__all__ = ["procrustes", "AlignedProjector", "PCAProjector", "aligned_replay", "warm_up_umap", "project_with",
           "nearest", "place_among"]

_WARM = False


def warm_up_umap() -> float:
    """Trigger UMAP's numba compilation once per process; returns the seconds it took."""
    global _WARM
    if _WARM:
        return 0.0
    t0 = time.perf_counter()
    x = np.random.RandomState(0).randn(60, 8).astype(np.float32)
    AlignedProjector(n_neighbors=10, n_epochs=20).project(x, x[:5])
    _WARM = True
    return time.perf_counter() - t0


def nearest(query: np.ndarray, data: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Return the ``k`` nearest rows of ``data`` (n, d) to each row of ``query`` (m, d), nearest first.

    Euclidean, exact: indices (m, k) int64 and distances (m, k) float32 (a row of ``data`` in ``query`` is
    its own nearest, at 0).
    """
    q, x = np.asarray(query, dtype=np.float64), np.asarray(data, dtype=np.float64)
    d2 = np.maximum((q ** 2).sum(1)[:, None] - 2 * q @ x.T + (x ** 2).sum(1)[None], 0.0)  # (m, n)
    idx = np.argsort(d2, axis=1, kind="stable")[:, :k]
    return idx.astype(np.int64), np.sqrt(np.take_along_axis(d2, idx, 1)).astype(np.float32)


def place_among(points: np.ndarray, real: np.ndarray, layout: np.ndarray, k: int) -> np.ndarray:
    """Place ``points`` (m, d) in a 2-D ``layout`` (n, 2) of ``real`` (n, d): among their ``k`` nearest real points.

    Each goes to the weighted mean of its neighbours' positions, the weights falling off as
    ``exp(-(dist - nearest) / scale)`` with ``scale`` its neighbours' mean distance beyond the nearest
    (the local scale, as UMAP's memberships do). Returns (m, 2).
    """
    if len(points) == 0:
        return np.zeros((0, 2), dtype=np.float32)
    idx, dist = nearest(points, real, k)
    beyond = dist - dist[:, :1]  # (m, k)
    scale = np.maximum(beyond.mean(1, keepdims=True), 1e-12)
    w = np.exp(-beyond / scale)
    w /= w.sum(1, keepdims=True)
    return (w[..., None] * np.asarray(layout)[idx]).sum(1).astype(np.float32)  # (m, 2)


def procrustes(source: np.ndarray, target: np.ndarray) -> tuple[np.ndarray, float, np.ndarray]:
    """Orthogonal Procrustes with scale: (R, s, t) minimising ‖s · (source − μ_s) R + t − target‖_F.

    source, target : (n, 2) paired points. Returns R (2, 2) orthogonal, s > 0, t (2,).
    Apply with ``(x - source.mean(0)) @ R * s + t``; t is target's centroid.
    """
    mu_s, mu_t = source.mean(0), target.mean(0)
    a, b = source - mu_s, target - mu_t
    u, sig, vt = np.linalg.svd(a.T @ b)
    r = u @ vt
    s = sig.sum() / max((a ** 2).sum(), 1e-12)
    return r, float(s), mu_t


@dataclass
class AlignedProjector:
    """Project frames of (real, extra) embeddings to 2-D with stable positions.

    Parameters
    ----------
    n_neighbors, min_dist : UMAP settings.
    n_epochs : UMAP epochs per refresh (few: each frame starts from the previous layout).
    seed : UMAP ``random_state``.
    """

    n_neighbors: int = 15
    min_dist: float = 0.1
    n_epochs: int = 60
    seed: int = 0
    previous: np.ndarray | None = field(default=None, repr=False)  # (n_real, 2) last real layout

    def reset(self) -> None:
        self.previous = None

    def project(self, real: np.ndarray, extra: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Real (n, d) and extra (m, d) embeddings → 2-D positions (n, 2) and (m, 2)."""
        import umap

        real = np.asarray(real, dtype=np.float32)
        k = min(self.n_neighbors, len(real) - 1)
        init = self.previous if self.previous is not None and len(self.previous) == len(real) else "spectral"
        model = umap.UMAP(n_neighbors=k, min_dist=self.min_dist, precomputed_knn=nearest(real, real, k),
                          n_epochs=self.n_epochs if not isinstance(init, str) else max(self.n_epochs, 200),
                          init=init, random_state=self.seed, n_jobs=1)
        with warnings.catch_warnings():  # "transform will be unavailable": it is not used
            warnings.filterwarnings("ignore", message=r"precomputed_knn\[2\]", category=UserWarning)
            pos = model.fit_transform(real)
        ext = place_among(np.zeros((0, real.shape[1])) if extra is None else extra, real, pos, k)
        if self.previous is not None and len(self.previous) == len(real):
            r, s, t = procrustes(pos, self.previous)
            mu = pos.mean(0)
            pos, ext = (pos - mu) @ r * s + t, (ext - mu) @ r * s + t
        self.previous = pos
        return pos, ext


@dataclass
class PCAProjector:
    """Project frames to their real points' top two principal axes, aligned frame to frame.

    PCA is linear, so a mean of points lands on the mean of their projections: group means, the
    barycenter (mean of group means) and the pooled mean sit exactly where they belong among the
    points, which UMAP does not promise. Each new layout is rotated/scaled onto the previous one
    (Procrustes on the real points) so the picture stays put while the network changes.
    """

    previous: np.ndarray | None = field(default=None, repr=False)  # (n_real, 2)

    def reset(self) -> None:
        self.previous = None

    def project(self, real: np.ndarray, extra: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Real (n, d) and extra (m, d) embeddings → 2-D positions (n, 2) and (m, 2)."""
        real = np.asarray(real, dtype=np.float64)
        extra = np.zeros((0, real.shape[1])) if extra is None else np.asarray(extra, dtype=np.float64)
        mu = real.mean(0)  # (d,)
        axes = _top_axes(real - mu, 2)  # (d, 2)
        pos, ext = (real - mu) @ axes, (extra - mu) @ axes  # (n, 2), (m, 2)
        if self.previous is not None and len(self.previous) == len(real):
            r, s, t = procrustes(pos, self.previous)
            c = pos.mean(0)
            pos, ext = (pos - c) @ r * s + t, (ext - c) @ r * s + t
        self.previous = pos
        return pos.astype(np.float32), ext.astype(np.float32)


def _top_axes(centred: np.ndarray, k: int) -> np.ndarray:
    """The top ``k`` principal axes (d, k) of centred rows (n, d), zero columns where the rank is lower.

    From the eigenvectors of the smaller Gram matrix (n × n or d × d), in PyTorch: numpy's SVD of a
    250 × 512 frame took 0.15–4 s in a dashboard kernel (its BLAS threads fighting PyTorch's for 2
    cores), this 3–15 ms.
    """
    import torch

    x = torch.from_numpy(np.ascontiguousarray(centred, dtype=np.float64))
    n, d = x.shape
    if d <= n:
        vals, vecs = torch.linalg.eigh(x.T @ x)  # ascending; vecs (d, d) are the axes
        axes = vecs[:, -k:].flip(1)
    else:
        vals, vecs = torch.linalg.eigh(x @ x.T)  # vecs (n, n): scores up to scale; axes = xᵀ u / ‖xᵀ u‖
        axes = x.T @ vecs[:, -k:].flip(1)
        axes = axes / axes.norm(dim=0).clamp_min(1e-300)
    keep = vals.flip(0)[:k] > 1e-12 * max(float(vals.max()), 1e-300)  # rank-deficient: no direction
    axes = axes[:, :k] * keep[: axes.shape[1]]
    return np.pad(axes.numpy(), ((0, 0), (0, k - axes.shape[1])))


def project_with(projector, real: np.ndarray, extra: np.ndarray | None = None) -> tuple:
    """Run ``projector.project(real, extra)`` on a copy; return ``(real_xy, extra_xy, projector.previous)``.

    For a projector that lays out in another process (the dashboard's layout worker): the caller keeps
    the state (``previous``) and sends it with each frame.
    """
    pos, ext = projector.project(real, extra)
    return pos, ext, projector.previous


def aligned_replay(frames: list[np.ndarray], *, n_neighbors: int = 15, seed: int = 0) -> list[np.ndarray]:
    """Lay out recorded frames (each (n, d), the same n points in the same order) with AlignedUMAP.

    Returns one (n, 2) layout per frame, aligned so a slider can scrub through them.
    """
    import umap

    if len(frames) < 2:
        raise ValueError(f"a replay needs at least 2 recorded frames; got {len(frames)}")
    n = len(frames[0])
    if any(len(f) != n for f in frames):
        raise ValueError("every replay frame must hold the same points")
    relation = {i: i for i in range(n)}
    model = umap.AlignedUMAP(n_neighbors=min(n_neighbors, n - 1), random_state=seed, n_epochs=100)
    model.fit([np.asarray(f, dtype=np.float32) for f in frames], relations=[relation] * (len(frames) - 1))
    return [np.asarray(e) for e in model.embeddings_]
