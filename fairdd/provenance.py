"""How a record of past settings differs from now: the checks behind resume and reproduction.

``settings_differences`` compares a saved settings record (a config's ``to_dict()``) with the
current one; ``fingerprint_differences`` compares two dataset fingerprints
(``GroupedDataset.fingerprint``). Both return the differences in words (empty: nothing differs).
"""
from __future__ import annotations

from typing import Iterable, Mapping

__all__ = ["settings_differences", "fingerprint_differences"]


def settings_differences(made: Mapping, now: Mapping, *, ignore: Iterable[str] = (),
                         defaults: Mapping | None = None) -> list[str]:
    """``"key=<made> (now <now>)"`` for every key of ``now`` (except ``ignore``) whose saved value differs.

    A key missing from ``made`` (a field added since it was saved) counts as its value in
    ``defaults`` when one is given there, else as ``None``.
    """
    ignore, defaults = set(ignore), defaults or {}
    out = []
    for k in sorted(k for k in now if k not in ignore):
        saved = made.get(k, defaults.get(k))
        if saved != now[k]:
            out.append(f"{k}={saved!r} (now {now[k]!r})")
    return out


def fingerprint_differences(made: dict, now: dict, *, ignore: tuple = ()) -> list[str]:
    """List what differs between two dataset fingerprints (``GroupedDataset.fingerprint``), in words."""
    flat_made, flat_now = _flatten(made), _flatten(now)
    out = []
    for k in sorted(set(flat_made) | set(flat_now)):
        if k in ignore or k.split(".")[-1] in ignore:
            continue
        a, b = flat_made.get(k), flat_now.get(k)
        if a != b:
            out.append(f"{k} {_short(a)} (now {_short(b)})")
    return out


def _flatten(d: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(_flatten(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def _short(v) -> str:
    text = repr(v)
    return text if len(text) <= 40 else text[:37] + "..."
