"""How statistics are matched: matchers (DM; DC, IDC, CAFE slot in here)."""
from .base import Matcher, RealBatch
from .dc import DCMatcher, gradient_distance
from .dm import DMMatcher, dm_loss, embed_real

MATCHERS = {"dm": DMMatcher, "dc": DCMatcher, "dsa": DCMatcher}

__all__ = ["Matcher", "RealBatch", "DMMatcher", "dm_loss", "embed_real", "DCMatcher", "gradient_distance", "MATCHERS"]
