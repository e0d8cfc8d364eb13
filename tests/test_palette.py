"""The one palette (fairdd/palette.py) and the one denormalise (fairdd/display.py)."""
import subprocess
import sys

import torch

from fairdd import palette
from fairdd.data import PALETTE, REBIAS_PALETTE
from fairdd.display import denormalise


def test_the_palette_imports_no_plotting_library():
    code = "import sys, fairdd.palette; print(any(m.split('.')[0] in ('matplotlib', 'seaborn') for m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_every_colour_is_a_hex_code_or_a_data_rgb():
    hexes = [*palette.OKABE_ITO.values(), *palette.CYCLE, *palette.PAPER_CYCLE, *palette.STRATEGY_COLOURS.values()]
    assert all(len(c) == 7 and c[0] == "#" and int(c[1:], 16) >= 0 for c in hexes)
    assert set(palette.PAPER_CYCLE) <= set(palette.OKABE_ITO.values())
    assert len(set(palette.CYCLE)) == len(palette.CYCLE) == 10  # distinct, so ten groups stay apart
    assert PALETTE is palette.DIGIT_COLOURS and REBIAS_PALETTE is palette.REBIAS_COLOURS  # the data reads them


def test_strategies_keep_their_colour_and_unknown_names_cycle():
    assert palette.strategy_colour("cobra-w2") == palette.strategy_colour("cobra") == palette.OKABE_ITO["blue"]
    assert palette.strategy_colour("mystery", 12) == palette.CYCLE[2]
    assert palette.group_colour("red") == (1.0, 0.0, 0.0) and palette.group_colour("male", 1) == palette.CYCLE[1]


def test_denormalise_undoes_the_normalisation_and_clips():
    g = torch.Generator().manual_seed(0)
    raw = torch.rand(4, 3, 5, 5, generator=g)  # (N, C, H, W) in [0, 1]
    mean, std = (0.2, 0.5, 0.7), (0.3, 0.25, 0.1)
    m, s = torch.tensor(mean).view(1, 3, 1, 1), torch.tensor(std).view(1, 3, 1, 1)
    assert torch.allclose(denormalise((raw - m) / s, mean, std), raw, atol=1e-6)
    far = torch.full((1, 3, 2, 2), 100.0)
    assert denormalise(far, mean, std).eq(1).all() and denormalise(-far, mean, std).eq(0).all()
