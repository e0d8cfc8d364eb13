"""Every colour fairdd draws with, written once (plain values: no plotting library is imported).

Views use the colour-blind-safe Okabe–Ito colours (Okabe & Ito, *Color Universal Design*, 2008):
strategies have fixed colours, so a method reads the same in every figure; colour groups are drawn
in their own colour. The coloured-digit datasets are built from ``DIGIT_COLOURS`` (clean
construction) and ``REBIAS_COLOURS`` (the official one), so their values are data, not style.
"""
from __future__ import annotations

__all__ = ["OKABE_ITO", "CYCLE", "PAPER_CYCLE", "STRATEGY_COLOURS", "DIGIT_COLOURS", "REBIAS_COLOURS",
           "REBIAS_NAMES", "cycle_colour", "strategy_colour", "group_colour"]

OKABE_ITO = {"orange": "#E69F00", "sky blue": "#56B4E9", "bluish green": "#009E73", "yellow": "#F0E442",
             "blue": "#0072B2", "vermillion": "#D55E00", "reddish purple": "#CC79A7", "grey": "#999999",
             "black": "#000000"}
_WINE = "#882255"  # Paul Tol's wine: a tenth colour after Okabe–Ito's nine
_O = OKABE_ITO

# Colours by position, for series without a colour of their own (groups of non-colour datasets, ...).
CYCLE = (_O["orange"], _O["sky blue"], _O["bluish green"], _O["yellow"], _O["blue"], _O["vermillion"],
         _O["reddish purple"], _O["grey"], _O["black"], _WINE)
# The paper figures' seaborn palette: blue first (COBRA's colour), then the rest of Okabe–Ito.
PAPER_CYCLE = (_O["blue"], _O["orange"], _O["bluish green"], _O["reddish purple"], _O["sky blue"], _O["vermillion"],
               _O["yellow"], _O["grey"])
# One colour per strategy, by the target's base name ("cobra-w2" is drawn as "cobra").
STRATEGY_COLOURS = {"vanilla": _O["orange"], "uniform": _O["sky blue"], "fairdd": _O["bluish green"],
                    "cobra": _O["blue"], "random": _O["grey"], "w2": _O["reddish purple"]}

# The clean coloured-digits construction's colours (RGB in [0, 1]), in class order.
DIGIT_COLOURS = {
    "red": (1.0, 0.0, 0.0), "green": (0.0, 1.0, 0.0), "blue": (0.0, 0.0, 1.0), "yellow": (1.0, 1.0, 0.0),
    "magenta": (1.0, 0.0, 1.0), "cyan": (0.0, 1.0, 1.0), "orange": (1.0, 0.5, 0.0),
    "purple": (0.5, 0.0, 1.0), "white": (1.0, 1.0, 1.0), "brown": (0.6, 0.3, 0.1),
}
# ReBias' COLOUR_MAP (8-bit RGB), in its order: class y owns colour y (colour_mnist.py, FashionMNIST.py)
REBIAS_COLOURS = ((255, 0, 0), (255, 128, 0), (255, 255, 0), (255, 255, 128), (0, 255, 0), (0, 255, 255),
                  (0, 0, 255), (128, 0, 255), (255, 0, 255), (255, 255, 255))
REBIAS_NAMES = ("red", "orange", "yellow", "light-yellow", "green", "cyan", "blue", "purple", "magenta", "white")


def cycle_colour(index: int) -> str:
    """Give the ``index``-th colour of ``CYCLE`` (wrapping around)."""
    return CYCLE[index % len(CYCLE)]


def strategy_colour(name: str, index: int = 0) -> str:
    """Give the strategy's own colour (by base name), else the ``index``-th colour of the cycle."""
    return STRATEGY_COLOURS.get(name.split("-")[0], cycle_colour(index))


def group_colour(name: str, index: int = 0):
    """Give a colour group's own colour (an RGB tuple), else the ``index``-th colour of the cycle."""
    return DIGIT_COLOURS.get(name, cycle_colour(index))
