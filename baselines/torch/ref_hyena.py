"""PyTorch re-implementation of the Hyena operator of HazyResearch/safari `standalone_hyena.py`
(HyenaOperator and its HyenaFilter), written from the published semantics in SEMANTICS-hyena-s4d.md
(sections 1 and 4). The module tree, and so `named_parameters()` and `state_dict()`, is the official one:

    in_proj.weight ((o+1)D, D), in_proj.bias, out_proj.weight (D, D), out_proj.bias,
    short_filter.weight ((o+1)D, 1, 3), short_filter.bias, filter_fn.bias ((o-1)D),
    filter_fn.pos_emb.z (1, l_max, emb_dim), filter_fn.implicit_filter.0.weight (F, emb_dim), .0.bias,
    .1.freq (1, F) (one Sin module shared by every activation slot), .2.weight, .2.bias, ...,
    .{2n+2}.weight ((o-1)D, F) (no bias);
    buffers filter_fn.pos_emb.t (1, l_max, 1) and filter_fn.modulation.deltas (1, 1, (o-1)D).

The C operator (ops/hyena.h) uses the same names and shapes, so parameter blocks move between the two.
Differences from the official file, none of which changes the computation at the defaults:
  * `short_filter_order` (default 3, the official hard-coded kernel) may be set; padding is K-1;
  * no einops dependency (reshape/permute instead of rearrange);
  * the unused `mul_sum` helper is left out.
As in the official module, an input longer than l_max gives an output truncated to l_max; the C operator
refuses such inputs instead.
"""

import math

import torch
import torch.nn as nn


def fftconv(u, k, skip):
    """Causal convolution of every channel with its kernel plus a skip, through FFTs of length 2L:
    u (B, C, L), k (C, L), skip (C,) -> y[b, c, t] = sum_{s <= t} k[c, s] u[b, c, t - s] + skip[c] u[b, c, t].
    The kernel spectrum is divided by 2L and the inverse is unnormalised (norm='forward')."""
    seq_len = u.shape[-1]
    n = 2 * seq_len
    k_f = torch.fft.rfft(k, n=n) / n
    u_f = torch.fft.rfft(u.to(dtype=k.dtype), n=n)
    if u.dim() > 3:
        k_f = k_f.unsqueeze(1)
    y = torch.fft.irfft(u_f * k_f, n=n, norm="forward")[..., :seq_len]
    return (y + u * skip.unsqueeze(-1)).to(dtype=u.dtype)


class OptimModule(nn.Module):
    """register(): lr == 0 makes a buffer; otherwise a Parameter tagged with `_optim` hyperparameters."""

    def register(self, name, tensor, lr=None, wd=0.0):
        if lr == 0.0:
            self.register_buffer(name, tensor)
            return
        self.register_parameter(name, nn.Parameter(tensor))
        optim = {}
        if lr is not None:
            optim["lr"] = lr
        if wd is not None:
            optim["weight_decay"] = wd
        setattr(getattr(self, name), "_optim", optim)


class Sin(nn.Module):
    """sin(freq * x), freq a (1, dim) Parameter initialised to w."""

    def __init__(self, dim, w=10, train_freq=True):
        super().__init__()
        freq = w * torch.ones(1, dim)
        self.freq = nn.Parameter(freq) if train_freq else freq

    def forward(self, x):
        return torch.sin(self.freq * x)


class PositionalEmbedding(OptimModule):
    """z (1, seq_len, emb_dim) = [t, cos(f w), -sin(f w)] with t = linspace(0, 1), w = 2 pi l / seq_len,
    f = linspace(1e-4, bands - 1, bands); z is a Parameter (lr_pos_emb), t a buffer."""

    def __init__(self, emb_dim, seq_len, lr_pos_emb=1e-5, **kwargs):
        super().__init__()
        self.seq_len = seq_len
        t = torch.linspace(0, 1, seq_len)[None, :, None]
        bands = (emb_dim - 1) // 2
        t_rescaled = torch.linspace(0, seq_len - 1, seq_len)[None, :, None]
        w = 2 * math.pi * t_rescaled / seq_len
        f = torch.linspace(1e-4, bands - 1, bands)[None, None]
        z = torch.exp(-1j * f * w)
        z = torch.cat([t, z.real, z.imag], dim=-1)
        self.register("z", z, lr=lr_pos_emb)
        self.register("t", t, lr=0.0)

    def forward(self, L):
        return self.z[:, :L], self.t[:, :L]


class ExponentialModulation(OptimModule):
    """x * (exp(-t |deltas|) + shift), deltas = linspace(log(target)/slow_decay_pct,
    log(target)/fast_decay_pct, d_model), a buffer unless modulation_lr != 0."""

    def __init__(self, d_model, fast_decay_pct=0.3, slow_decay_pct=1.5, target=1e-2, modulation_lr=0.0,
                 modulate=True, shift=0.0, **kwargs):
        super().__init__()
        self.modulate = modulate
        self.shift = shift
        max_decay = math.log(target) / fast_decay_pct
        min_decay = math.log(target) / slow_decay_pct
        deltas = torch.linspace(min_decay, max_decay, d_model)[None, None]
        self.register("deltas", deltas, lr=modulation_lr)

    def forward(self, t, x):
        if self.modulate:
            decay = torch.exp(-t * self.deltas.abs())
            x = x * (decay + self.shift)
        return x


class HyenaFilter(OptimModule):
    """Implicit filter: Linear(emb_dim, order) -> Sin -> num_inner_mlps x [Linear(order, order) -> Sin]
    -> Linear(order, d_model, bias=False), one Sin instance in every slot; then the modulation.
    `bias` (d_model,) ~ N(0, 1) is the skip coefficient of the long convolution."""

    def __init__(self, d_model, emb_dim=3, order=16, fused_fft_conv=False, seq_len=1024, lr=1e-3, lr_pos_emb=1e-5,
                 dropout=0.0, w=1, wd=0, bias=True, num_inner_mlps=2, normalized=False, **kwargs):
        super().__init__()
        self.d_model = d_model
        self.use_bias = bias  # unused, as in the official module
        self.fused_fft_conv = fused_fft_conv
        self.bias = nn.Parameter(torch.randn(self.d_model))
        self.dropout = nn.Dropout(dropout)  # never applied, as in the official module
        act = Sin(dim=order, w=w)
        self.emb_dim = emb_dim
        assert emb_dim % 2 != 0 and emb_dim >= 3, "emb_dim must be odd and >= 3 (time, sine and cosine)"
        self.seq_len = seq_len
        self.pos_emb = PositionalEmbedding(emb_dim, seq_len, lr_pos_emb)
        self.implicit_filter = nn.Sequential(nn.Linear(emb_dim, order), act)
        for _ in range(num_inner_mlps):
            self.implicit_filter.append(nn.Linear(order, order))
            self.implicit_filter.append(act)
        self.implicit_filter.append(nn.Linear(order, d_model, bias=False))
        self.modulation = ExponentialModulation(d_model, **kwargs)
        self.normalized = normalized  # unused
        for child in self.implicit_filter.children():
            for name, _ in child.state_dict().items():
                setattr(getattr(child, name), "_optim", {"weight_decay": wd, "lr": lr})

    def filter(self, L, *args, **kwargs):
        z, t = self.pos_emb(L)
        h = self.implicit_filter(z)
        return self.modulation(t, h)

    def forward(self, x, L, k=None, bias=None, *args, **kwargs):
        if k is None:
            k = self.filter(L)
        k = k[0] if type(k) is tuple else k
        return fftconv(x, k, bias)


class HyenaOperator(nn.Module):
    """x (B, L, D) -> in_proj -> causal depthwise short conv -> split ch_0 .. ch_o (v = ch_o) ->
    for x_i in ch_{o-1} .. ch_1: v = fftconv(v * x_i, h_j, beta_j) -> out_proj(v * ch_0)."""

    def __init__(self, d_model, l_max, order=2, filter_order=64, dropout=0.0, filter_dropout=0.0,
                 short_filter_order=3, **filter_args):
        super().__init__()
        self.d_model = d_model
        self.l_max = l_max
        self.order = order
        inner_width = d_model * (order + 1)
        self.dropout = nn.Dropout(dropout)
        self.in_proj = nn.Linear(d_model, inner_width)
        self.out_proj = nn.Linear(d_model, d_model)
        self.short_filter = nn.Conv1d(inner_width, inner_width, short_filter_order, padding=short_filter_order - 1,
                                      groups=inner_width)
        self.filter_fn = HyenaFilter(d_model * (order - 1), order=filter_order, seq_len=l_max, channels=1,
                                     dropout=filter_dropout, **filter_args)

    def forward(self, u, *args, **kwargs):
        l_filter = min(u.size(-2), self.l_max)
        u = self.in_proj(u).transpose(1, 2)                   # (B, (o+1)D, L)
        uc = self.short_filter(u)[..., :l_filter]
        *x, v = uc.split(self.d_model, dim=1)
        k = self.filter_fn.filter(l_filter)[0]                # (L, (o-1)D), columns (o d)
        k = k.reshape(l_filter, self.order - 1, self.d_model).permute(1, 2, 0)  # 'l (o d) -> o d l'
        bias = self.filter_fn.bias.reshape(self.order - 1, self.d_model)          # '(o d) -> o d'
        for o, x_i in enumerate(reversed(x[1:])):
            v = self.dropout(v * x_i)
            v = self.filter_fn(v, l_filter, k=k[o], bias=bias[o])
        y = (v * x[0]).transpose(1, 2)                        # (B, L, D)
        return self.out_proj(y)


# The C operator's config keys (ops/hyena.c) and how they map onto the constructor arguments.
CONFIG_DEFAULTS = dict(d_model=64, l_max=1024, order=2, filter_order=64, emb_dim=3, num_inner_mlps=2, w=1.0,
                       short_filter_order=3, fast_decay_pct=0.3, slow_decay_pct=1.5, target=1e-2, shift=0.0,
                       modulate=1)


def parse_config(text):
    """"k=v,..." in the C operator's keys -> dict over CONFIG_DEFAULTS (unknown or repeated keys: error)."""
    cfg, seen = dict(CONFIG_DEFAULTS), set()
    for item in filter(None, text.split(",")):
        key, _, value = item.partition("=")
        if key not in cfg or key in seen:
            raise ValueError(f"hyena config: unknown or repeated key '{key}'")
        seen.add(key)
        cfg[key] = type(CONFIG_DEFAULTS[key])(float(value)) if key != "modulate" else int(value)
    return cfg


def from_config(text):
    """HyenaOperator configured by the C operator's config string."""
    c = parse_config(text)
    return HyenaOperator(c["d_model"], c["l_max"], order=c["order"], filter_order=c["filter_order"],
                         short_filter_order=c["short_filter_order"], emb_dim=c["emb_dim"],
                         num_inner_mlps=c["num_inner_mlps"], w=c["w"], fast_decay_pct=c["fast_decay_pct"],
                         slow_decay_pct=c["slow_decay_pct"], target=c["target"], shift=c["shift"],
                         modulate=bool(c["modulate"]))
