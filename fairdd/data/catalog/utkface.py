"""``utkface``: UTKFace at 64 px, class = age bin (0–19, 20–39, 40+), group = race (or gender)."""
from ..faces import SIZE, UTK_AGES, UTK_RACES, load_utkface
from ..record import DatasetRecord

RECORD = DatasetRecord(
    title="UTKFace", name="utkface", loader=load_utkface, classes=UTK_AGES, group_attribute="race", groups=UTK_RACES,
    image_size=SIZE, files="UTKFace/<age>_<gender>_<race>_<date>.jpg.chip.jpg",
    idc_factor=((1, 4), (100, 3)),  # COBRA train_idc.py: `if args.dataset in ("BFFHQ", "UTKface")`
    source="COBRA data_handler/utkface.py")
