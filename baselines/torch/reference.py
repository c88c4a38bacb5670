"""PyTorch reference modules for the subq operators.

Each module is written from the published semantics of the PyTorch building block it names, with
parameter names (named_parameters() order and shapes) exactly as the C side lists them in
*_param_specs (ops/*.h), so parameter blocks and checkpoints move between the two unchanged.

Modules work on (B, L, D) tensors, D fastest, like the C operators. `make_op(name, config)` parses the
same "key=value,..." strings as the C registry (ops/config.c): unknown keys, duplicates and malformed values
are errors, omitted keys take the C defaults.
"""

import torch
import torch.nn as nn
import torch.nn.functional as F


class Linear(nn.Linear):
    """torch.nn.Linear(d_in, d_out, bias): weight (d_out, d_in), bias (d_out)."""


class LayerNorm(nn.LayerNorm):
    """torch.nn.LayerNorm(d_model, eps) over the last dimension: weight (D), bias (D)."""


class Gelu(nn.GELU):
    """Exact GELU, 0.5 x (1 + erf(x / sqrt(2))); no parameters."""

    def __init__(self, d_model):
        super().__init__(approximate="none")
        self.d_model = d_model


class Ffn(nn.Module):
    """fc2(gelu(fc1(x))): fc1.weight (H, D), fc1.bias (H), fc2.weight (D, H), fc2.bias (D)."""

    def __init__(self, d_model, d_hidden):
        super().__init__()
        self.fc1 = nn.Linear(d_model, d_hidden)
        self.fc2 = nn.Linear(d_hidden, d_model)

    def forward(self, x):
        return self.fc2(F.gelu(self.fc1(x)))


def causal_mask(seq_len, device=None):
    """(L, L) bool mask for nn.MultiheadAttention: True above the diagonal = key s > query t is hidden."""
    return torch.ones(seq_len, seq_len, dtype=torch.bool, device=device).triu(1)


class Attention(nn.MultiheadAttention):
    """Causal self-attention: nn.MultiheadAttention(d_model, n_heads, batch_first=True), no dropout, called
    on (x, x, x) with the causal mask. Being the MHA itself, its named_parameters() are exactly
    in_proj_weight (3D, D), in_proj_bias (3D), out_proj.weight (D, D), out_proj.bias (D)."""

    def __init__(self, d_model, n_heads):
        super().__init__(d_model, n_heads, dropout=0.0, bias=True, batch_first=True)

    def forward(self, x):
        mask = causal_mask(x.shape[1], x.device)
        y, _ = super().forward(x, x, x, attn_mask=mask, need_weights=False)
        return y


class Fftconv(nn.Module):
    """Causal per-channel long convolution plus a skip (ops/fftconv.h):
        y[b, t, c] = sum_{s <= t} k[c, s] x[b, t - s, c] + bias[c] x[b, t, c]
    with k (D, l_max), of which the first L taps are used (L <= l_max), and bias (D). Computed directly
    (grouped conv1d on the left-padded sequence), not through FFTs, so it is an independent reference."""

    def __init__(self, d_model, l_max):
        super().__init__()
        self.l_max = l_max
        self.k = nn.Parameter(torch.randn(d_model, l_max) / l_max ** 0.5)
        self.bias = nn.Parameter(torch.randn(d_model))

    def forward(self, x):
        B, L, D = x.shape
        if L > self.l_max:
            raise ValueError(f"fftconv: sequence length {L} exceeds l_max {self.l_max}")
        u = x.transpose(1, 2)                        # (B, D, L)
        taps = self.k[:, :L].flip(-1).unsqueeze(1)   # (D, 1, L): conv1d correlates, so flip for convolution
        y = F.conv1d(F.pad(u, (L - 1, 0)), taps, groups=D)
        return (y + self.bias[None, :, None] * u).transpose(1, 2)


# Per operator: its constructor and its config fields (name -> (parser, default)), mirroring the C tables.
# `impl` selects a C kernel (naive | tiled) with identical semantics, so the reference accepts and ignores it.
_INT, _FLOAT = int, float


def _impl(value):
    if value not in ("naive", "tiled"):
        raise ValueError(f"config: 'impl' must be one of naive|tiled, got '{value}'")
    return value


OPS = {
    "linear": (lambda c: Linear(c["d_in"], c["d_out"], bias=bool(c["bias"])),
               {"d_in": (_INT, 64), "d_out": (_INT, 64), "bias": (_INT, 1)}),
    "layernorm": (lambda c: LayerNorm(c["d_model"], eps=c["eps"]),
                  {"d_model": (_INT, 64), "eps": (_FLOAT, 1e-5)}),
    "gelu": (lambda c: Gelu(c["d_model"]), {"d_model": (_INT, 64)}),
    "ffn": (lambda c: Ffn(c["d_model"], c["d_hidden"]), {"d_model": (_INT, 64), "d_hidden": (_INT, 256)}),
    "attention": (lambda c: Attention(c["d_model"], c["n_heads"]),
                  {"d_model": (_INT, 64), "n_heads": (_INT, 4), "impl": (_impl, "naive")}),
    "fftconv": (lambda c: Fftconv(c["d_model"], c["l_max"]), {"d_model": (_INT, 64), "l_max": (_INT, 1024)}),
}


def parse_config(name, text):
    """"k=v,..." -> dict with every field of operator `name` (defaults filled in)."""
    if name not in OPS:
        raise ValueError(f"unknown operator '{name}'")
    fields = OPS[name][1]
    config = {key: default for key, (_, default) in fields.items()}
    seen = set()
    for item in filter(None, (part.strip() for part in text.split(","))):
        key, sep, value = item.partition("=")
        if not sep or key not in fields:
            raise ValueError(f"config: unknown or malformed item '{item}' for {name}")
        if key in seen:
            raise ValueError(f"config: duplicate key '{key}'")
        seen.add(key)
        config[key] = fields[key][0](value)
    return config


def make_op(name, config_string=""):
    """Builds the reference module for operator `name` configured by "k=v,..."."""
    return OPS[name][0](parse_config(name, config_string))


def param_shapes(module):
    """[(name, shape)] in named_parameters() order: what the C *_param_specs must list."""
    return [(n, tuple(p.shape)) for n, p in module.named_parameters()]
