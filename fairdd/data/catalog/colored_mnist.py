"""``colored-mnist``: full MNIST (60000 / 10000) from the user's IDX files, each digit in one of 10 colours."""
from ...palette import REBIAS_NAMES
from ..record import DatasetRecord
from ..sources import DIGIT_CLASSES
from . import _colored

RECORD = DatasetRecord(
    title="Colored-MNIST", name="colored-mnist", loader=_colored.loader("colored-mnist"), classes=DIGIT_CLASSES,
    group_attribute="colour", groups=REBIAS_NAMES, image_size=32,
    files="MNIST IDX files (train/t10k images and labels)", downloadable=True, train_size=60000,
    train_only=_colored.TRAIN_ONLY, imbalance="bias",
    canonical=_colored.canonical("colored-mnist"), source=_colored.SOURCE_OFFICIAL)
