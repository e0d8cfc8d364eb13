"""Views (optional extra ``notebooks``): UMAP projections, plots, paper figures. Heavy imports are lazy."""
from . import plots
from .embedding import AlignedProjector, PCAProjector, aligned_replay, procrustes, warm_up_umap

__all__ = ["plots", "AlignedProjector", "PCAProjector", "aligned_replay", "procrustes", "warm_up_umap"]
