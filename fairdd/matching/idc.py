"""IDC multi-formation on top of DC gradient matching, as the COBRA authors' ``train_idc.py`` runs it.

Each stored synthetic image decodes into ``factor²`` images (``fairdd.synthetic``: crops of side
⌊H / factor⌋, each upsampled back to H × W), so IPC stored images train like IPC · factor² images.

Per outer iteration one random ConvNet is drawn and *kept fixed* (no inner loop: ``inner_loop = 0``);
``outer_loop`` times a new real batch is drawn and S takes one step on DC's layer-wise gradient
distance between the real (per-strategy) gradients and the gradient of the decoded synthetic class.
Each stored image starts as one full real image of its class (the reference copies IPC real images
into S; decoding then zooms into their crops). No augmentation unless ``dsa=True``. Evaluation
models train on the decoded images (``DistillResult.training_set``).
"""
from __future__ import annotations

from typing import ClassVar

from ..synthetic import Multiformation, decode
from .dc import DCMatcher

__all__ = ["IDCMatcher", "decode"]


class IDCMatcher(DCMatcher):
    r"""IDC: DC's layer-wise gradient matching on the decoded synthetic set, one fixed network per iteration.

    .. math::
        L(S) = \sum_c \sum_k w_{c,k} \sum_l \sum_o \Big[1 - \cos\big(\mathrm{ref}_{c,k,l,o},\,
               \nabla_{\theta_l} \ell(\theta; \mathrm{decode}(S)_c)_o\big)\Big]

    with decode the multi-formation of ``fairdd.synthetic`` (``config.factor``); θ is drawn once per
    outer iteration and not trained (``inner_loop = 0`` in COBRA's runs).

    Parameters
    ----------
    config : DistillConfig
        DC's fields plus ``factor``.
    in_channels, n_classes, n_groups, image_size : int
    device : torch.device

    References
    ----------
    [1] Kim et al., "Dataset Condensation via Efficient Synthetic-Data Parameterization", ICML 2022.
    """

    name: ClassVar[str] = "idc"

    def __init__(self, config, **kw) -> None:
        super().__init__(config, **kw)
        self.formation = Multiformation.of(config)

    def training_images(self, syn, syn_labels):
        """Return the decoded synthetic set, factor² images per stored one, sorted by class."""
        return self.formation.decode(syn, syn_labels)  # matched, augmented (if asked) and trained on
