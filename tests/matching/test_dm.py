"""The DM embedding's torch.compile lever computes what the eager network computes."""
import torch

from fairdd.matching.dm import embed, embed_real
from fairdd.models import ConvNet, compiled, reset_parameters


def test_compiled_embedding_follows_redrawn_parameters_and_gradients():
    torch.manual_seed(0)
    net = ConvNet(width=8, image_size=16).requires_grad_(False)
    x = torch.randn(6, 3, 16, 16)
    assert torch.allclose(embed_real(net, x, None, None, compile=True), net.embed(x), atol=1e-5)
    g = torch.Generator().manual_seed(1)
    reset_parameters(net, g)  # in place, as DM does every iteration: no stale weights in the compiled graph
    assert torch.allclose(embed_real(net, x, None, None, compile=True), net.embed(x), atol=1e-5)
    assert compiled(net, "embed") is compiled(net, "embed")  # compiled once per network
    syn = torch.randn(4, 3, 16, 16, requires_grad=True)
    g_eager = torch.autograd.grad(embed(net, syn).square().sum(), syn)[0]
    g_comp = torch.autograd.grad(embed(net, syn, compile=True).square().sum(), syn)[0]
    assert torch.allclose(g_comp, g_eager, rtol=1e-4, atol=1e-5)
