"""PyTorch re-implementations of the two FFF modules that ops/fff.h follows, written from the official code:

* `FFF`: the authors' `fastfeedforward` package, class FFF (github pbelcak/fastfeedforward,
  fastfeedforward/fff.py). Same constructor arguments, parameter names, shapes, registration order and
  initialisation:
      depth (long, requires_grad=False), node_weights (K, D), node_biases (K, 1), w1s (Lf, D, W), b1s (Lf, W),
      w2s (Lf, W, D_out), b2s (Lf, D_out);   K = 2^depth - 1, Lf = 2^depth
  node_*, w1s, b1s ~ U(+-1/sqrt(D)); w2s, b2s ~ U(+-1/sqrt(W)). `training_forward` is the official soft
  mixture with per-node entropies (compute_entropy_safe) and region leaks; `eval_forward` is the official
  hard descent EXCEPT that it adds b2s, which the official main branch forgets (so its eval output does
  not match the saturated training mixture); pass include_b2s=False to get the official behaviour.
  Differences that do not change the function: the working buffers (mixture, entropies, leaf outputs) take
  the input's dtype instead of a hard-coded float32, so a float64 run stays float64; dropout,
  train_hardened and usage tracking (defaults: off) are left out.
* `UltraFastBERTFFF`: UltraFastBERT's FFF (github pbelcak/UltraFastBERT,
  training/cramming/architectures/fff.py), verbatim in substance: linear_in (R = P (2^(depth+1) - 1)
  neurons, with bias), GELU, the path mask built under no_grad from (logits > 0), linear_out (no bias).

`from_config("d_model=8,depth=3,...")` builds either from the C operator's config string (ops/fff.h);
mode=train|infer maps to .train()/.eval().
"""

import math

import torch
import torch.nn as nn


def compute_entropy_safe(p, minus_p):
    """Entropy of Bernoulli(p), p and 1 - p clamped to [1e-6, 1 - 1e-6] separately (official)."""
    epsilon = 1e-6
    p = torch.clamp(p, min=epsilon, max=1 - epsilon)
    minus_p = torch.clamp(minus_p, min=epsilon, max=1 - epsilon)
    return -p * torch.log(p) - minus_p * torch.log(minus_p)


class FFF(nn.Module):
    def __init__(self, input_width, leaf_width, output_width, depth, activation=None, region_leak=0.0):
        super().__init__()
        if depth < 0 or input_width <= 0 or leaf_width <= 0 or output_width <= 0:
            raise ValueError("input/leaf/output widths and depth must be all positive integers")
        if region_leak < 0 or region_leak > 1:
            raise ValueError("region_leak must be in the range [0, 1]")
        self.input_width, self.leaf_width, self.output_width = input_width, leaf_width, output_width
        self.activation = activation if activation is not None else nn.ReLU()
        self.region_leak = region_leak
        self.depth = nn.Parameter(torch.tensor(depth, dtype=torch.long), requires_grad=False)
        self.n_leaves = 2 ** depth
        self.n_nodes = 2 ** depth - 1

        l1 = 1.0 / math.sqrt(input_width)
        l2 = 1.0 / math.sqrt(leaf_width)
        self.node_weights = nn.Parameter(torch.empty((self.n_nodes, input_width)).uniform_(-l1, l1))
        self.node_biases = nn.Parameter(torch.empty((self.n_nodes, 1)).uniform_(-l1, l1))
        self.w1s = nn.Parameter(torch.empty((self.n_leaves, input_width, leaf_width)).uniform_(-l1, l1))
        self.b1s = nn.Parameter(torch.empty((self.n_leaves, leaf_width)).uniform_(-l1, l1))
        self.w2s = nn.Parameter(torch.empty((self.n_leaves, leaf_width, output_width)).uniform_(-l2, l2))
        self.b2s = nn.Parameter(torch.empty((self.n_leaves, output_width)).uniform_(-l2, l2))

    def training_forward(self, x, return_entropies=False):
        original_shape = x.shape
        x = x.reshape(-1, x.shape[-1])
        batch_size = x.shape[0]
        depth = int(self.depth.item())
        mixture = torch.ones((batch_size, self.n_leaves), dtype=x.dtype, device=x.device)
        entropies = torch.zeros((batch_size, self.n_nodes), dtype=x.dtype, device=x.device)
        for level in range(depth):
            platform, next_platform = 2 ** level - 1, 2 ** (level + 1) - 1
            n_nodes = 2 ** level
            logits = x @ self.node_weights[platform:next_platform].t() + self.node_biases[platform:next_platform].t()
            boundary = torch.sigmoid(logits)  # (batch, n_nodes)
            if self.region_leak > 0.0 and self.training:
                swaps = torch.empty_like(boundary).uniform_(0, 1) < self.region_leak
                boundary = torch.abs(swaps.to(boundary.dtype) - boundary)
            not_boundary = 1 - boundary
            entropies[:, platform:next_platform] = compute_entropy_safe(boundary, not_boundary)
            # left child (1 - b), right child b, interleaved per node
            modifier = torch.stack((not_boundary, boundary), dim=-1).flatten(1, 2).unsqueeze(-1)
            mixture = mixture.view(batch_size, 2 * n_nodes, self.n_leaves // (2 * n_nodes)) * modifier
            mixture = mixture.flatten(1, 2)
        hidden = (x @ self.w1s.transpose(0, 1).flatten(1, 2)).view(batch_size, self.n_leaves, self.leaf_width)
        activations = self.activation(hidden + self.b1s.unsqueeze(0))
        leaf_out = torch.einsum("nlw,lwo->nlo", activations, self.w2s) + self.b2s.unsqueeze(0)
        y = (leaf_out * mixture.unsqueeze(-1)).sum(dim=1).view(*original_shape[:-1], self.output_width)
        return (y, entropies.mean(dim=0)) if return_entropies else y

    def eval_forward(self, x, include_b2s=True):
        original_shape = x.shape
        x = x.reshape(-1, x.shape[-1])
        batch_size = x.shape[0]
        depth = int(self.depth.item())
        nodes = torch.zeros((batch_size,), dtype=torch.long, device=x.device)
        for _ in range(depth):
            score = (x * self.node_weights[nodes]).sum(-1) + self.node_biases[nodes].squeeze(-1)
            nodes = 2 * nodes + 1 + (score >= 0).long()
        leaves = nodes - self.n_nodes
        hidden = torch.bmm(x.unsqueeze(1), self.w1s[leaves]).squeeze(1) + self.b1s[leaves]
        y = torch.bmm(self.activation(hidden).unsqueeze(1), self.w2s[leaves]).squeeze(1)
        if include_b2s:
            y = y + self.b2s[leaves]
        return y.view(*original_shape[:-1], self.output_width)

    def forward(self, x, return_entropies=False):
        if self.training:
            return self.training_forward(x, return_entropies)
        if return_entropies:
            raise ValueError("Cannot return entropies during evaluation.")
        return self.eval_forward(x)


class UltraFastBERTFFF(nn.Module):
    def __init__(self, input_width, output_width, depth, parallel_size, activation=nn.GELU):
        super().__init__()
        self.input_width, self.output_width = input_width, output_width
        self.depth, self.parallel_size = depth, parallel_size
        self.n_nodes = 2 ** (depth + 1) - 1
        self.linear_in = nn.Linear(input_width, parallel_size * self.n_nodes, bias=True)
        self.linear_out = nn.Linear(parallel_size * self.n_nodes, output_width, bias=False)
        init_k = math.sqrt(1.0 / input_width)
        self.linear_in.weight.data = torch.empty((parallel_size * self.n_nodes, input_width)).uniform_(-init_k, init_k)
        self.linear_in.bias.data = torch.empty((parallel_size * self.n_nodes)).uniform_(-init_k, init_k)
        init_k2 = math.sqrt(1.0 / ((depth + 1) * parallel_size))
        self.linear_out.weight.data = torch.empty((output_width, parallel_size * self.n_nodes)).uniform_(
            -init_k2, init_k2)
        self.activation = activation()

    def forward(self, oldx):
        x = oldx.reshape(-1, self.input_width)
        batch_size = x.shape[0]
        logits = self.linear_in(x)
        decisions = (logits > 0).long().view(batch_size, self.parallel_size, self.n_nodes)
        activations = self.activation(logits).view(batch_size, self.parallel_size, self.n_nodes)
        with torch.no_grad():
            current = torch.zeros((batch_size, self.parallel_size), dtype=torch.long, device=x.device)
            decision_map = torch.zeros_like(decisions, dtype=torch.float)
            decision_map.scatter_(dim=2, index=current.unsqueeze(-1), value=1.0)
            for d in range(self.depth):
                platform, next_platform = 2 ** d - 1, 2 ** (d + 1) - 1
                moves = torch.gather(decisions, 2, current.unsqueeze(2)).squeeze(2)
                current = (current - platform) * 2 + moves + next_platform
                decision_map.scatter_(2, current.unsqueeze(-1), 1.0)
        y = self.linear_out((activations * decision_map).flatten(1, 2))
        return y.reshape_as(oldx)


DEFAULTS = dict(d_model=64, depth=3, leaf_width=8, activation="auto", variant="fff", mode="train",
                region_leak=0.0, seed=0, parallel_size=1)


def parse_config(text):
    cfg = dict(DEFAULTS)
    for item in filter(None, text.split(",")):
        key, value = item.split("=", 1)
        if key not in cfg:
            raise ValueError(f"fff: unknown key '{key}'")
        cfg[key] = type(DEFAULTS[key])(value)
    return cfg


def from_config(text):
    """The module the C operator configured by `text` computes (float32 parameters, official init)."""
    cfg = parse_config(text)
    gelu = cfg["activation"] == "gelu" or (cfg["activation"] == "auto" and cfg["variant"] == "ufb")
    if cfg["variant"] == "ufb":
        module = UltraFastBERTFFF(cfg["d_model"], cfg["d_model"], cfg["depth"], cfg["parallel_size"],
                                  activation=nn.GELU if gelu else nn.ReLU)
    else:
        module = FFF(cfg["d_model"], cfg["leaf_width"], cfg["d_model"], cfg["depth"],
                     activation=nn.GELU() if gelu else nn.ReLU(), region_leak=cfg["region_leak"])
    return module.train(cfg["mode"] == "train")
