"""Files written atomically get the permissions of any new file, not mkstemp's private 0600."""
import os

from fairdd.io import write_json


def test_atomic_write_uses_the_umask_mode(tmp_path):
    mask = os.umask(0)
    os.umask(mask)
    path = write_json(tmp_path / "m.json", {"a": 1})
    assert path.stat().st_mode & 0o777 == 0o666 & ~mask
