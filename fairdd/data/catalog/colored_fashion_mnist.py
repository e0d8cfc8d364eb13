"""``colored-fashion-mnist``: full Fashion-MNIST (60000 / 10000) from IDX files, each item in one of 10 colours."""
from ...palette import REBIAS_NAMES
from ..record import DatasetRecord
from ..sources import FASHION_CLASSES
from . import _colored

RECORD = DatasetRecord(
    title="Colored-FashionMNIST", name="colored-fashion-mnist", loader=_colored.loader("colored-fashion-mnist"), classes=FASHION_CLASSES,
    group_attribute="colour", groups=REBIAS_NAMES, image_size=32,
    files="Fashion-MNIST IDX files (train/t10k images and labels)", downloadable=True, train_size=60000,
    train_only=_colored.TRAIN_ONLY, imbalance="bias",
    canonical=_colored.canonical("colored-fashion-mnist"), source=_colored.SOURCE_OFFICIAL)
