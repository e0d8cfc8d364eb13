"""ConvNet-3 and K networks run as one grouped network (``stacked_forward``)."""
import pytest
import torch

from fairdd.models import ConvNet, reset_parameters
from fairdd.stacked import stacked_forward


@pytest.mark.parametrize("norm,depth", [("instancenorm", 3), ("instancenorm", 1), ("none", 2)])
def test_stacked_forward_is_each_network_on_its_own_batch(norm, depth):
    nets = [reset_parameters(ConvNet(width=6, depth=depth, norm=norm, image_size=16, n_classes=5),
                             torch.Generator().manual_seed(i)) for i in range(3)]
    params = {n: torch.stack([dict(m.named_parameters())[n] for m in nets]) for n, _ in nets[0].named_parameters()}
    x = torch.randn(3, 4, 3, 16, 16, generator=torch.Generator().manual_seed(9))  # network k's batch x[k]
    out = stacked_forward(nets[0], params, x)
    assert out.shape == (3, 4, 5)
    for k, net in enumerate(nets):
        assert torch.allclose(out[k], net(x[k]), atol=1e-5), k


def test_stacked_forward_refuses_batch_norm():
    net = ConvNet(width=4, depth=1, norm="batchnorm", image_size=8)
    params = {n: p.unsqueeze(0) for n, p in net.named_parameters()}
    with pytest.raises(ValueError, match="cannot run a BatchNorm2d layer"):
        stacked_forward(net, params, torch.randn(1, 2, 3, 8, 8))
