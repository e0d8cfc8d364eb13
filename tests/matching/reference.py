"""Our own re-implementation of the reference formulas (COBRA train_cafe.py, train_idc.py,
train_dc.py, utils.match_loss; FairDD main_DC.py), written loop by loop as the reference code is,
so the vectorised matchers can be checked against them on tiny networks."""
from __future__ import annotations

import torch
import torch.nn.functional as F


def cafe_forward(net, x):
    """COBRA cafe/networks.py ConvNet.forward for depth 3: (logits, [f5, f4, f3, f2, f1])."""
    out = net.features[:-9](x)
    f1 = out
    out = net.features[-9:-5](out)
    f2 = out
    out = net.features[-5:-1](out)
    f3 = out
    out = net.features[-1:](out)
    f4 = out
    out = out.view(out.size(0), -1)
    f5 = out
    return net.classifier(out), [f5, f4, f3, f2, f1]


def cafe_cobra_loss(net, real_by_class, colors_by_class, syn_by_class):
    """train_cafe.py, mode == "cobra": one outer-loop loss."""
    mse = torch.nn.MSELoss(reduction="sum")
    num_classes = len(real_by_class)
    loss = torch.tensor(0.0)
    for img_real, color, img_syn in zip(real_by_class, colors_by_class, syn_by_class):
        _, real_features = cafe_forward(net, img_real)
        _, syn_features = cafe_forward(net, img_syn)
        unique_groups = torch.unique(color)
        avg_real = {idx: torch.zeros(real_features[idx].shape[1:]) for idx in [0, -1, -2, -3, -4]}
        for col in unique_groups:
            mask = color == col
            for idx in avg_real:
                avg_real[idx] = avg_real[idx] + torch.mean(real_features[idx][mask], dim=0)
        for idx in avg_real:
            avg_real[idx] = avg_real[idx] / len(unique_groups)
        for idx in (0, -1, -2):
            loss = loss + mse(avg_real[idx], torch.mean(syn_features[idx], dim=0)) / num_classes
        for idx in (-3, -4):
            loss = loss + 0.1 * mse(avg_real[idx], torch.mean(syn_features[idx], dim=0)) / num_classes
    return loss


def cafe_vanilla_loss(net, real_by_class, syn_by_class, inner_weight=0.01):
    """train_cafe.py, mode == "vanilla", less ``criterion(output_real, lab_real)`` (no gradient in S)."""
    num_classes = len(real_by_class)

    def class_mean_mse(real_feat, syn_feat):
        real = real_feat.view(num_classes, real_feat.shape[0] // num_classes, *real_feat.shape[1:])
        syn = syn_feat.view(num_classes, syn_feat.shape[0] // num_classes, *syn_feat.shape[1:])
        return torch.nn.MSELoss(reduction="sum")(real.mean(dim=1), syn.mean(dim=1))

    img_real = torch.cat(real_by_class)
    img_syn = torch.cat(syn_by_class)
    lab_real = torch.cat([torch.full((len(r),), c) for c, r in enumerate(real_by_class)])
    _, real_features = cafe_forward(net, img_real)
    _, syn_features = cafe_forward(net, img_syn)
    loss = sum(class_mean_mse(real_features[i], syn_features[i]) for i in (-1, -2, -3, -4))
    last_real = torch.mean(real_features[0].view(num_classes, -1, real_features[0].shape[1]), dim=1)
    last_syn = torch.mean(syn_features[0].view(num_classes, -1, syn_features[0].shape[1]), dim=1)
    out_align = torch.mm(real_features[0], last_syn.t())
    loss = loss + class_mean_mse(last_syn, last_real)
    return loss + inner_weight * F.cross_entropy(out_align, lab_real, reduction="sum")


def distance_wb(gwr, gws):
    """COBRA / FairDD utils.distance_wb."""
    shape = gwr.shape
    if len(shape) == 4:
        gwr = gwr.reshape(shape[0], shape[1] * shape[2] * shape[3])
        gws = gws.reshape(shape[0], shape[1] * shape[2] * shape[3])
    elif len(shape) == 1:
        return torch.tensor(0, dtype=torch.float)
    return torch.sum(1 - torch.sum(gwr * gws, dim=-1) / (torch.norm(gwr, dim=-1) * torch.norm(gws, dim=-1) + 0.000001))


def match_loss(gw_syn, gw_real):
    """utils.match_loss with dis_metric "ours"."""
    return sum(distance_wb(r, s) for r, s in zip(gw_real, gw_syn))


def decode_zoom(img, target, factor, size):
    """COBRA train_idc.py decode_zoom."""
    h = img.shape[-1]
    s_crop = h // factor
    resize = torch.nn.Upsample(size=size, mode="bilinear", align_corners=True)
    cropped = []
    for i in range(factor):
        for j in range(factor):
            cropped.append(img[:, :, i * s_crop:(i + 1) * s_crop, j * s_crop:(j + 1) * s_crop])
    return resize(torch.cat(cropped, dim=0)), torch.cat([target for _ in range(factor ** 2)])


def gradient_matching_loss(net, real_by_class, colors_by_class, syn_by_class, *, mode, reduction="mean"):
    """One outer-loop loss of COBRA train_dc.py / train_idc.py (modes vanilla, fairdd, cobra: the
    FairDD distances averaged, ``reduction="mean"``) or FairDD main_DC.py (``reduction="sum"``).
    ``syn_by_class``: the (decoded) synthetic images of each class."""
    params = list(net.parameters())
    loss = torch.tensor(0.0)
    for c, (img_real, color, img_syn) in enumerate(zip(real_by_class, colors_by_class, syn_by_class)):
        lab_real = torch.full((len(img_real),), c)
        gw_syn = torch.autograd.grad(F.cross_entropy(net(img_syn), torch.full((len(img_syn),), c)), params,
                                     create_graph=True)
        output_real = net(img_real)
        if mode == "vanilla":
            gw_real = [g.detach() for g in torch.autograd.grad(F.cross_entropy(output_real, lab_real), params)]
            loss = loss + match_loss(gw_syn, gw_real)
            continue
        per_group = []
        for col in torch.unique(color):
            m = color == col
            g = torch.autograd.grad(F.cross_entropy(output_real[m], lab_real[m]), params, retain_graph=True)
            per_group.append([t.detach() for t in g])
        if mode == "fairdd":
            for gw_real in per_group:
                loss = loss + match_loss(gw_syn, gw_real) / (len(per_group) if reduction == "mean" else 1)
        else:
            bary = [torch.stack([g[i] for g in per_group]).mean(0) for i in range(len(params))]
            loss = loss + match_loss(gw_syn, bary)
    return loss


def dm_loss(embed, real_by_class, colors_by_class, syn_by_class, *, mode, reduction="sum"):
    """COBRA train_dm.py (vanilla / fairdd / cobra) and FairDD main_DM.py; ``reduction="mean"``
    divides the FairDD sum by the groups present (not in either reference for DM: the field's other value)."""
    loss = torch.tensor(0.0)
    for img_real, color, img_syn in zip(real_by_class, colors_by_class, syn_by_class):
        output_real = embed(img_real).detach()
        output_syn = embed(img_syn)
        if mode == "vanilla":
            loss = loss + torch.sum((torch.mean(output_real, dim=0) - torch.mean(output_syn, dim=0)) ** 2)
        elif mode == "fairdd":
            cols = torch.unique(color)
            for col in cols:
                d = torch.sum((torch.mean(output_real[color == col], dim=0) - torch.mean(output_syn, dim=0)) ** 2)
                loss = loss + d / (len(cols) if reduction == "mean" else 1)
        else:
            means = [torch.mean(embed(img_real[color == g]), dim=0) for g in torch.unique(color)]
            loss = loss + torch.sum((torch.stack(means).mean(0) - torch.mean(output_syn, dim=0)).abs())
    return loss
