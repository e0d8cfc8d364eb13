"""``bffhq``: bFFHQ at 64 px, class = age, group = gender (the file names' two attributes), the released split."""
from ..faces import SIZE, load_bffhq
from ..record import DatasetRecord

RECORD = DatasetRecord(
    title="BFFHQ", name="bffhq", loader=load_bffhq, classes=("age 0", "age 1"), group_attribute="gender",
    groups=("gender 0", "gender 1"), image_size=SIZE, files="bffhq/0.5pct/{align,conflict}/<label>/, bffhq/test/",
    idc_factor=((1, 4), (100, 3)),  # COBRA train_idc.py: `if args.dataset in ("BFFHQ", "UTKface")`
    source="COBRA data_handler/bffhq.py")
