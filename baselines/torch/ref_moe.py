"""PyTorch reference of the C `moe` operator (ops/moe.h): sparsely-gated mixture of experts with noisy top-k
gating (Shazeer et al. 2017), following davidmrau/mixture-of-experts (moe.py, class MoE) with the differences
listed in ops/moe.h:

* gates = softmax over the k kept logits (the paper; moe.py before its 2024 commits 6def823/1d77a00, which
  softmax over all E and renormalise the kept with a +1e-6), thresholds of the smooth load are noisy logits;
* gate / noise weights are nn.Linear(D, E, bias=False) weights (E, D) = moe.py's w_gate / w_noise transposed,
  zero-initialised like them; noise std = softplus(x W_noise^T) + 1e-2 (moe.py noise_epsilon);
* experts are fc2(act(fc1(x))) blocks (ReLU like moe.py's MLP, or exact GELU), without moe.py's trailing
  Softmax, stored stacked: experts.fc1.weight (E, H, D) is torch.stack of E nn.Linear(D, H) weights, etc.;
* optional capacity (capacity_factor > 0): each expert keeps at most ceil(c k N / E) assignments, in priority
  order (all first choices in token order, then all second choices, ...); dropped ones contribute nothing.

The gating noise z[n, e] is the C operator's counter-based draw (moe_noise: splitmix64 + Box-Muller, as
float32), reproduced bit for bit here, so training mode with noise matches the C code as well; pass `z=` to
forward to use other noise. named_parameters() order: gate.weight, noise.weight, experts.fc1.weight,
experts.fc1.bias, experts.fc2.weight, experts.fc2.bias.

`from_config("d_model=8,n_experts=4,...")` builds the module from the C config string; mode=train|infer maps
to .train()/.eval() (noise only in training, and only with noise=1). After a forward, `module.aux` holds the
auxiliary losses: importance_cv2, load_cv2 (moe.py's cv_squared of importance and load), switch_loss
(E sum_e f_e P_e), and the capacity counts.
"""

import math

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

NOISE_EPSILON = 1e-2
CV2_EPSILON = 1e-10
_MASK = (1 << 64) - 1
_GOLDEN = 0x9E3779B97F4A7C15


def _mix64(z):
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK
    return z ^ (z >> 31)


def moe_noise(seed, n_tokens, n_experts):
    """(n_tokens, n_experts) float32 standard normals: ops/moe.c moe_noise for rows 0..n_tokens-1."""
    key = _mix64(((seed & 0xFFFFFFFF) * _GOLDEN + 0xD1B54A32D192ED03) & _MASK)
    out = np.empty((n_tokens, n_experts), dtype=np.float32)
    for n in range(n_tokens):
        for e in range(n_experts):
            c = (n * n_experts + e) & _MASK
            a = _mix64((key + (2 * c + 1) * _GOLDEN) & _MASK)
            b = _mix64((key + (2 * c + 2) * _GOLDEN) & _MASK)
            u1 = ((a >> 11) + 1.0) * 2.0**-53
            u2 = (b >> 11) * 2.0**-53
            out[n, e] = np.float32(math.sqrt(-2.0 * math.log(u1)) * math.cos(2.0 * math.pi * u2))
    return torch.from_numpy(out)


def cv_squared(x):
    """moe.py cv_squared: unbiased variance over squared mean (+1e-10); 0 for a single expert."""
    if x.shape[0] == 1:
        return torch.zeros((), dtype=x.dtype)
    return x.var() / (x.mean() ** 2 + CV2_EPSILON)


class StackedLinear(nn.Module):
    """E independent nn.Linear(d_in, d_out): weight (E, d_out, d_in), bias (E, d_out), nn.Linear's init."""

    def __init__(self, n, d_in, d_out):
        super().__init__()
        bound = 1.0 / math.sqrt(d_in)
        self.weight = nn.Parameter(torch.empty(n, d_out, d_in).uniform_(-bound, bound))
        self.bias = nn.Parameter(torch.empty(n, d_out).uniform_(-bound, bound))

    def forward(self, x, e):
        return F.linear(x, self.weight[e], self.bias[e])


class Experts(nn.Module):
    def __init__(self, n_experts, d_model, d_hidden, activation):
        super().__init__()
        self.fc1 = StackedLinear(n_experts, d_model, d_hidden)
        self.fc2 = StackedLinear(n_experts, d_hidden, d_model)
        self.act = nn.GELU() if activation == "gelu" else nn.ReLU()

    def forward(self, x, e):
        return self.fc2(self.act(self.fc1(x, e)), e)


class MoE(nn.Module):
    def __init__(self, d_model, n_experts, top_k, d_hidden, activation="relu", noisy_gating=True,
                 capacity_factor=0.0, seed=0):
        super().__init__()
        assert 1 <= top_k <= n_experts
        self.d_model, self.n_experts, self.k = d_model, n_experts, top_k
        self.noisy_gating, self.capacity_factor, self.seed = noisy_gating, capacity_factor, seed
        self.gate = nn.Linear(d_model, n_experts, bias=False)
        self.noise = nn.Linear(d_model, n_experts, bias=False)
        nn.init.zeros_(self.gate.weight)
        nn.init.zeros_(self.noise.weight)
        self.experts = Experts(n_experts, d_model, d_hidden, activation)
        self.aux = {}

    def _prob_in_top_k(self, clean, noisy, std, top_values):
        """moe.py _prob_in_top_k with noisy-logit thresholds: P(e stays in / enters the top k)."""
        threshold_if_in = top_values[:, self.k:self.k + 1]
        threshold_if_out = top_values[:, self.k - 1:self.k]
        is_in = noisy > threshold_if_in
        normal = torch.distributions.Normal(torch.zeros((), dtype=clean.dtype), torch.ones((), dtype=clean.dtype))
        return torch.where(is_in, normal.cdf((clean - threshold_if_in) / std),
                           normal.cdf((clean - threshold_if_out) / std))

    def gating(self, x, z=None):
        """Returns the kept experts (N, k), their gates (N, k) and the routing logits (N, E); sets aux."""
        clean = self.gate(x)
        noisy = self.noisy_gating and self.training
        logits = clean
        if noisy:
            std = F.softplus(self.noise(x)) + NOISE_EPSILON
            if z is None:
                z = moe_noise(self.seed, x.shape[0], self.n_experts)
            logits = clean + z.to(x.dtype) * std
        top_values, top_idx = logits.topk(min(self.k + 1, self.n_experts), dim=1)
        idx, gates = top_idx[:, :self.k], F.softmax(top_values[:, :self.k], dim=1)
        dense = torch.zeros_like(logits).scatter(1, idx, gates)
        counts = torch.zeros_like(logits).scatter(1, idx, 1.0).sum(0)
        if noisy and self.k < self.n_experts:
            load = self._prob_in_top_k(clean, logits, std, top_values).sum(0)
        else:
            load = counts
        probs = F.softmax(logits, dim=1).mean(0)
        n_assign = x.shape[0] * self.k
        self.aux = dict(importance_cv2=cv_squared(dense.sum(0)), load_cv2=cv_squared(load),
                        switch_loss=self.n_experts * (counts / n_assign * probs).sum())
        return idx, gates, logits

    def capacity(self, n_tokens):
        if self.capacity_factor <= 0:
            return n_tokens
        return min(n_tokens, math.ceil(self.capacity_factor * self.k * n_tokens / self.n_experts))

    def keep_mask(self, idx):
        """(N, k) bool: within capacity, filled in priority order (rank, then token)."""
        cap = self.capacity(idx.shape[0])
        used = torch.zeros(self.n_experts, dtype=torch.long)
        kept = []
        for s in range(self.k):
            onehot = F.one_hot(idx[:, s], self.n_experts)
            position = used[idx[:, s]] + (onehot.cumsum(0) * onehot).sum(1) - 1
            kept.append(position < cap)
            used += onehot.sum(0)
        mask = torch.stack(kept, dim=1)
        self.aux.update(capacity=cap, dropped_assignments=int((~mask).sum()),
                        dropped_tokens=int((~mask.any(1)).sum()))
        return mask

    def forward(self, x, z=None):
        shape = x.shape
        x = x.reshape(-1, self.d_model)
        idx, gates, _ = self.gating(x, z)
        kept = self.keep_mask(idx)
        y = torch.zeros_like(x)
        for e in range(self.n_experts):
            token, rank = torch.nonzero((idx == e) & kept, as_tuple=True)
            if token.numel():
                out = self.experts(x[token], e) * gates[token, rank].unsqueeze(1)
                y = y.index_add(0, token, out)
        return y.reshape(shape)


DEFAULTS = dict(d_model=64, n_experts=8, top_k=2, d_hidden=64, activation="relu", mode="train", noise=1,
                capacity_factor=0.0, seed=0)


def parse_config(text):
    cfg = dict(DEFAULTS)
    for item in filter(None, text.split(",")):
        key, value = item.split("=", 1)
        if key not in cfg:
            raise ValueError(f"moe: unknown key '{key}'")
        cfg[key] = type(DEFAULTS[key])(value)
    return cfg


def from_config(text):
    c = parse_config(text)
    module = MoE(c["d_model"], c["n_experts"], c["top_k"], c["d_hidden"], c["activation"], bool(c["noise"]),
                 c["capacity_factor"], c["seed"])
    return module.train(c["mode"] == "train")
