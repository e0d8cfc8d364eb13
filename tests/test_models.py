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


@pytest.mark.parametrize("shape", [(4, 3, 8, 8), (2, 5, 7, 9), (3, 2, 2, 2)])
def test_convnets_pooling_is_avg_pool2d_to_the_bit_forward_backward_and_double_backward(shape):
    """``pool2x2`` (slices in the kernel's order) against ``F.avg_pool2d``: outputs, gradients and the gradient
    of a gradient (gradient matching) the same floats, odd sizes included; ConvNet's repr and types unchanged."""
    import torch.nn.functional as F

    from fairdd.models import pool2x2

    g = torch.Generator().manual_seed(0)
    x = (torch.randn(shape, generator=g) * torch.rand(shape, generator=g).exp() * 100).requires_grad_()
    ours, ref = pool2x2(x), F.avg_pool2d(x, 2)
    assert torch.equal(ours, ref)
    w = torch.randn(ref.shape, generator=g, requires_grad=True)
    (ga,), (gb,) = (torch.autograd.grad((y * w).sum(), x, create_graph=True) for y in (ours, ref))
    assert torch.equal(ga, gb)
    assert all(torch.equal(a, b) for a, b in zip(torch.autograd.grad((ga ** 2).sum(), w),
                                                 torch.autograd.grad((gb ** 2).sum(), w)))
    assert torch.autograd.gradgradcheck(pool2x2, (x.detach().double().requires_grad_(),))
    net = ConvNet(width=4, depth=2, image_size=8)
    assert "AvgPool2d(kernel_size=2, stride=2, padding=0)" in repr(net)
    assert sum(isinstance(m, torch.nn.AvgPool2d) for m in net.modules()) == 2


def test_per_sample_gradients_through_the_pooling_are_avg_pool2ds():
    """DC's ``vmap(grad)`` per-sample and per-class gradients (and their gradient in S) go through ``pool2x2``."""
    import copy

    from fairdd.matching.dc import real_cell_gradients, syn_class_gradients

    net = reset_parameters(ConvNet(in_channels=3, n_classes=4, width=8, depth=2, image_size=8),
                           torch.Generator().manual_seed(0))
    ref = copy.deepcopy(net)
    ref.features = torch.nn.Sequential(*[torch.nn.AvgPool2d(2) if isinstance(m, torch.nn.AvgPool2d) else m
                                         for m in ref.features])
    assert type(ref.features[3]) is torch.nn.AvgPool2d and type(net.features[3]) is not torch.nn.AvgPool2d
    names = [n for n, _ in net.named_parameters()]
    g = torch.Generator().manual_seed(1)
    x, lab, grp = torch.randn(12, 3, 8, 8, generator=g), torch.arange(12) % 4, torch.arange(12) % 2
    assert torch.equal(real_cell_gradients(net, names, x, lab, grp, 4, 2)[0],
                       real_cell_gradients(ref, names, x, lab, grp, 4, 2)[0])
    syn, labels = torch.randn(8, 3, 8, 8, generator=g, requires_grad=True), torch.arange(4).repeat_interleave(2)
    ours, theirs = (syn_class_gradients(m, names, syn, labels, 4) for m in (net, ref))
    assert torch.equal(ours, theirs)
    assert torch.equal(*(torch.autograd.grad((s ** 2).sum(), syn)[0] for s in (ours, theirs)))
