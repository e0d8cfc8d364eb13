"""``cifar10-s``: CIFAR-10 with a grayscale / colour group and a per-class skew (COBRA's CIFAR10-S)."""
from ..cifar10s import CIFAR10_CLASSES, load_cifar10s
from ..record import DatasetRecord

RECORD = DatasetRecord(
    title="CIFAR10-S", name="cifar10-s", loader=load_cifar10s, classes=CIFAR10_CLASSES, group_attribute="colour",
    groups=("grayscale", "color"), image_size=32, files="CIFAR-10 batches (cifar-10-batches-py/ or -bin/)",
    train_size=50000, published_severity=None, train_only=("skew",), imbalance="skew",  # test: every image both ways
    source="COBRA data_handler/cifar10.py")
