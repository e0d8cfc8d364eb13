"""Notebook dashboards (optional extra ``notebooks``): thin ipywidgets views over a controller."""
from .controller import DistillController, Frame, Settings

__all__ = ["DistillController", "Settings", "Frame", "Dashboard"]


def __getattr__(name):
    if name == "Dashboard":  # ipywidgets only when the view is asked for
        from .dashboard import Dashboard

        return Dashboard
    raise AttributeError(name)
