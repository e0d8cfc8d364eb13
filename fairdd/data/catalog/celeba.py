"""``celeba``: CelebA at 64 px, class = an attribute (Attractive), group = another (Male)."""
from ..faces import SIZE, load_celeba
from ..record import DatasetRecord

RECORD = DatasetRecord(
    title="CelebA", name="celeba", loader=load_celeba, classes=("not Attractive", "Attractive"), group_attribute="Male",
    groups=("not Male", "Male"), image_size=SIZE,
    files="img_align_celeba/*.jpg, list_attr_celeba.txt, list_eval_partition.txt",
    source="COBRA data_handler/celeba.py")  # IDC factor 2: train_idc.py's face branch names BFFHQ and UTKface only
