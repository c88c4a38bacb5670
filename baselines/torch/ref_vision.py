"""PyTorch reference modules for the image operators conv2d (ops/conv2d.h) and longconv2d (ops/longconv2d.h).

Both work on channels-last images stored as sequences, x (B, L = H W, C) with pixel (p, q) at position p W + q,
like the C operators, and list named_parameters() exactly as the C *_param_specs do:

  Conv2dSeq   = torch.nn.Conv2d(d_in, d_out, k, padding=k // 2, groups, bias) itself: weight, bias.
  LongConv2d  = y[b, p, q, c] = sum_{i, j} h[c, i, j] x[b, p + ci - i, q + cj - j, c] + bias[c] x[b, p, q, c],
                (ci, cj) = (H // 2, W // 2), x = 0 outside the image; computed here with F.conv2d on the
                flipped kernel and an asymmetric zero padding (an independent route from the C side's FFTs).
                h = window * MLP(features), the MLP the one of ref_hyena.HyenaFilter (one shared Sin):
                bias (D), implicit_filter.0.weight (F, E), .0.bias, .1.freq (1, F), .{2i}.weight/bias,
                .{2n+2}.weight (D, F). Buffers: z (H W, E) features, radius (H W), deltas (D), built in float32.
"""

import math
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ref_hyena import Sin  # noqa: E402


class Conv2dSeq(nn.Conv2d):
    """torch.nn.Conv2d with "same" padding on (B, H W, C) sequences."""

    def __init__(self, d_in, d_out, height, width, kernel=3, groups=1, bias=True):
        super().__init__(d_in, d_out, kernel, padding=kernel // 2, groups=groups, bias=bias)
        self.height, self.width = height, width

    def forward(self, x):
        B, L, C = x.shape
        img = x.reshape(B, self.height, self.width, C).permute(0, 3, 1, 2)
        return super().forward(img).permute(0, 2, 3, 1).reshape(B, L, -1)


def axis_coordinate(n):
    """(i - n // 2) / (n / 2) for i < n, float32 as the C side computes it."""
    return (torch.arange(n, dtype=torch.float32) - (n // 2)) / torch.tensor(0.5 * n, dtype=torch.float32)


def features(height, width, emb_dim):
    """z (H W, E) = [u, v, cos(pi f u), -sin(pi f u), cos(pi f v), -sin(pi f v)] with f = 1 .. bands, and the
    radius sqrt((u^2 + v^2) / 2) (H W), float32."""
    bands = (emb_dim - 2) // 4
    u = axis_coordinate(height)[:, None].expand(height, width).reshape(-1)
    v = axis_coordinate(width)[None, :].expand(height, width).reshape(-1)
    freq = torch.tensor(math.pi, dtype=torch.float32) * torch.arange(1, bands + 1, dtype=torch.float32)
    fu, fv = u[:, None] * freq[None], v[:, None] * freq[None]
    z = torch.cat([u[:, None], v[:, None], torch.cos(fu), -torch.sin(fu), torch.cos(fv), -torch.sin(fv)], dim=1)
    return z, torch.sqrt(0.5 * (u * u + v * v))


class LongConv2d(nn.Module):
    def __init__(self, d_model, height, width, filter_order=64, emb_dim=10, num_inner_mlps=2, w=1.0,
                 fast_decay_pct=0.3, slow_decay_pct=1.5, target=1e-2, shift=0.0, modulate=True):
        super().__init__()
        assert emb_dim >= 2 and (emb_dim - 2) % 4 == 0, "emb_dim must be 2 + 4 bands"
        self.d_model, self.height, self.width = d_model, height, width
        self.shift, self.modulate = shift, modulate
        self.bias = nn.Parameter(torch.randn(d_model))
        act = Sin(dim=filter_order, w=w)
        self.implicit_filter = nn.Sequential(nn.Linear(emb_dim, filter_order), act)
        for _ in range(num_inner_mlps):
            self.implicit_filter.append(nn.Linear(filter_order, filter_order))
            self.implicit_filter.append(act)
        self.implicit_filter.append(nn.Linear(filter_order, d_model, bias=False))
        z, radius = features(height, width, emb_dim)
        self.register_buffer("z", z)
        self.register_buffer("radius", radius)
        # Hyena's ExponentialModulation spread (bounds in double, then torch.linspace in float32).
        deltas = torch.linspace(math.log(target) / slow_decay_pct, math.log(target) / fast_decay_pct, d_model)
        self.register_buffer("deltas", deltas)

    def filter(self):
        """h (D, H, W)."""
        hf = self.implicit_filter(self.z)  # (H W, D)
        if self.modulate:
            hf = hf * (torch.exp(-self.radius[:, None] * self.deltas.abs()[None]) + self.shift)
        return hf.t().reshape(self.d_model, self.height, self.width)

    def forward(self, x):
        B, L, D = x.shape
        H, W = self.height, self.width
        u = x.transpose(1, 2).reshape(B, D, H, W)
        ci, cj = H // 2, W // 2
        # sum_i k[i] u[p + ci - i] is a cross-correlation with the flipped kernel over u padded by H-1-ci rows
        # above and ci below (likewise columns).
        padded = F.pad(u, (W - 1 - cj, cj, H - 1 - ci, ci))
        y = F.conv2d(padded, self.filter().flip(-1, -2)[:, None], groups=D) + u * self.bias[None, :, None, None]
        return y.reshape(B, D, L).transpose(1, 2)


CONV2D_DEFAULTS = dict(d_in=64, d_out=64, height=32, width=32, kernel=3, groups=1, bias=1)
LONGCONV2D_DEFAULTS = dict(d_model=64, height=32, width=32, filter_order=64, emb_dim=10, num_inner_mlps=2, w=1.0,
                           fast_decay_pct=0.3, slow_decay_pct=1.5, target=1e-2, shift=0.0, modulate=1)


def parse_config(defaults, text):
    """"k=v,..." in the C operator's keys -> dict over defaults (unknown or repeated keys: error)."""
    cfg, seen = dict(defaults), set()
    for item in filter(None, text.split(",")):
        key, _, value = item.partition("=")
        if key not in cfg or key in seen:
            raise ValueError(f"unknown or repeated key '{key}'")
        seen.add(key)
        cfg[key] = type(defaults[key])(float(value))
    return cfg


def conv2d_from_config(text):
    c = parse_config(CONV2D_DEFAULTS, text)
    return Conv2dSeq(c["d_in"], c["d_out"], c["height"], c["width"], kernel=c["kernel"], groups=c["groups"],
                     bias=bool(c["bias"]))


def longconv2d_from_config(text):
    c = parse_config(LONGCONV2D_DEFAULTS, text)
    return LongConv2d(c["d_model"], c["height"], c["width"], filter_order=c["filter_order"], emb_dim=c["emb_dim"],
                      num_inner_mlps=c["num_inner_mlps"], w=c["w"], fast_decay_pct=c["fast_decay_pct"],
                      slow_decay_pct=c["slow_decay_pct"], target=c["target"], shift=c["shift"],
                      modulate=bool(c["modulate"]))
