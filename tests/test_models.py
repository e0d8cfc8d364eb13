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


def test_a_cpu_pass_takes_as_many_images_as_keep_the_first_activation_in_cache():
    from fairdd.models import CACHE_BYTES, cpu_chunk

    assert cpu_chunk(ConvNet(width=16, image_size=32), 32) == 128  # the demo: 8 MiB of 64 KiB images
    assert cpu_chunk(ConvNet(width=128, image_size=32), (32, 32)) == 16  # the paper's network
    assert cpu_chunk(ConvNet(width=128, depth=4, image_size=64), 64) == 4
    assert cpu_chunk(ConvNet(width=512, image_size=64), 128) == 1  # never none
    for width, side in ((16, 32), (64, 32), (128, 64)):
        n = cpu_chunk(ConvNet(width=width, image_size=side), side)
        assert n * 4 * width * side * side <= CACHE_BYTES < (n + 1) * 4 * width * side * side


@pytest.mark.parametrize("width", [16, 128])
def test_the_features_and_answers_are_the_same_bits_in_any_chunk(width):
    """``embed_real`` and ``predict`` take cache-sized chunks on CPU: the same bits as one pass (whole batches)."""
    from fairdd.augment import sample_params
    from fairdd.matching.dm import embed_real
    from fairdd.train import _logits, predict

    g = torch.Generator().manual_seed(width)
    net = reset_parameters(ConvNet(width=width, image_size=32), g)
    x = torch.randn(300, 3, 32, 32, generator=g)
    rows, params = torch.arange(300) % 10, sample_params(10, generator=g)
    with torch.no_grad():
        whole = embed_real(net, x, params, rows, chunk=300)
        assert torch.equal(embed_real(net, x, params, rows), whole)  # chunk 0: cpu_chunk's (16 or 128)
        assert torch.equal(_logits(net, x), net(x))
    net.requires_grad_(True)
    got = predict(net, x, batch_size=200)
    assert torch.equal(got, torch.cat([net(x[:200]).argmax(1), net(x[200:]).argmax(1)])) and not got.requires_grad
