"""How statistics are matched: matchers (DM, DC/DSA, IDC, CAFE) and the distance of each target kind."""
from .base import Matcher, RealBatch
from .cafe import CAFEMatcher
from .dc import DCMatcher, gradient_distance
from .distances import DISTANCES, register_distance
from .dm import DMMatcher, dm_loss, embed_real
from .idc import IDCMatcher

MATCHERS: dict[str, type[Matcher]] = {"dm": DMMatcher, "dc": DCMatcher, "dsa": DCMatcher, "cafe": CAFEMatcher,
                                      "idc": IDCMatcher}

__all__ = ["Matcher", "RealBatch", "DMMatcher", "dm_loss", "embed_real", "DCMatcher", "gradient_distance",
           "CAFEMatcher", "IDCMatcher", "MATCHERS", "DISTANCES", "register_distance"]
