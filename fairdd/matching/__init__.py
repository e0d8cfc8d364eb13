"""How statistics are matched: matchers (DM; DC, IDC, CAFE slot in here)."""
from .base import Matcher, RealBatch
from .dm import DMMatcher, dm_loss, embed_real

MATCHERS = {"dm": DMMatcher}

__all__ = ["Matcher", "RealBatch", "DMMatcher", "dm_loss", "embed_real", "MATCHERS"]
