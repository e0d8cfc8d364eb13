"""``colored-digits``: scikit-learn's 8×8 digits upsampled to 32 px and coloured (fairdd's clean style); offline."""
from ...palette import DIGIT_COLOURS
from ..record import DatasetRecord
from ..sources import DIGIT_CLASSES
from . import _colored

RECORD = DatasetRecord(
    title="Colored-digits", name="colored-digits", loader=_colored.loader("colored-digits"), classes=DIGIT_CLASSES,
    group_attribute="colour", groups=tuple(DIGIT_COLOURS), image_size=32, train_size=1442,
    train_only=_colored.TRAIN_ONLY, imbalance="bias",
    canonical=_colored.canonical("colored-digits"), source="fairdd's construction (no paper builds it)")
