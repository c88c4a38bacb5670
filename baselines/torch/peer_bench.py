"""PyTorch peer timings for `subq reproduce` (experiment `peers`): times the same operators at the same shapes
with the current PyTorch release on the CPU and writes them in subq's results schema.

Usage: .venv/bin/python baselines/torch/peer_bench.py POINTS.json OUT.h5
POINTS.json: {"threads": N, "points": [{"run": "...", "op": "attention|fftconv|hyena|ffn|s4d",
              "config": "<subq config string>", "batch": B, "seq_len": L, "single": 0|1}, ...]}
The peers, chosen to be what a PyTorch user would run:
  attention  in/out projections + F.scaled_dot_product_attention(is_causal=True) (PyTorch's fused kernel);
  fftconv    torch.fft.rfft/irfft of length 2L on (B, D, L), the official Hyena code's fftconv;
  hyena      the reference HyenaOperator (baselines/torch/ref_hyena.py, the official module's semantics);
  s4d        the reference S4D module (baselines/torch/ref_s4d.py), if present;
  ffn        fc2(gelu(fc1(x))).
Timing follows subq's policy: a warm-up, then repetitions until 5 and 0.5 s (one repetition when
"single"); median, min and IQR in milliseconds; forward under torch.no_grad(), forward+backward with
autograd (y.backward(dy)). Writes OUT.h5 atomically (temporary name, then rename).
"""

import json
import os
import sys
import time

import h5py
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ref_hyena  # noqa: E402
import reference  # noqa: E402


def parse(text):
    out = {}
    for item in filter(None, text.split(",")):
        key, _, value = item.partition("=")
        out[key] = value
    return out


class SdpaAttention(nn.Module):
    """The attention peer: same parameters as nn.MultiheadAttention, the fused causal SDPA kernel."""

    def __init__(self, d_model, n_heads):
        super().__init__()
        self.n_heads = n_heads
        self.in_proj = nn.Linear(d_model, 3 * d_model)
        self.out_proj = nn.Linear(d_model, d_model)

    def forward(self, x):
        b, l, d = x.shape
        q, k, v = self.in_proj(x).view(b, l, 3, self.n_heads, d // self.n_heads).permute(2, 0, 3, 1, 4)
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        return self.out_proj(y.transpose(1, 2).reshape(b, l, d))


class FftConv(nn.Module):
    """The official Hyena fftconv on the channel-major layout (B, D, L) it is written for."""

    def __init__(self, d_model, l_max):
        super().__init__()
        self.k = nn.Parameter(torch.randn(d_model, l_max) / l_max ** 0.5)
        self.bias = nn.Parameter(torch.randn(d_model))

    def forward(self, u):
        return ref_hyena.fftconv(u, self.k[:, : u.shape[-1]], self.bias)


def build(op, config):
    c = parse(config)
    d = int(c.get("d_model", 64))
    if op == "attention":
        return SdpaAttention(d, int(c["n_heads"])), False
    if op == "fftconv":
        return FftConv(d, int(c["l_max"])), True
    if op == "hyena":
        return ref_hyena.from_config(config), False
    if op == "ffn":
        return reference.Ffn(d, int(c["d_hidden"])), False
    if op == "s4d":
        import ref_s4d  # noqa: E402  (optional until the S4D reference exists)

        return ref_s4d.from_config(config), False
    raise ValueError(f"peer_bench: no PyTorch peer for operator '{op}'")


def measure(body, single):
    if not single:
        body()
    samples, total = [], 0.0
    while len(samples) < (1 if single else 5) or (not single and total < 0.5 and len(samples) < 1000):
        t0 = time.perf_counter()
        body()
        dt = time.perf_counter() - t0
        samples.append(dt * 1e3)
        total += dt
    s = np.sort(np.array(samples))
    return dict(median=float(np.percentile(s, 50)), min=float(s[0]),
                iqr=float(np.percentile(s, 75) - np.percentile(s, 25)), reps=len(s))


def time_point(p):
    module, channel_major = build(p["op"], p["config"])
    d = int(parse(p["config"]).get("d_model", 64))
    shape = (p["batch"], d, p["seq_len"]) if channel_major else (p["batch"], p["seq_len"], d)
    x = torch.randn(*shape)
    dy = torch.randn(*shape)
    with torch.no_grad():
        fwd = measure(lambda: module(x), p["single"])
    xg = x.clone().requires_grad_(True)

    def train():
        module.zero_grad(set_to_none=True)
        xg.grad = None
        module(xg).backward(dy)

    return fwd, measure(train, p["single"])


def main(points_path, out_path):
    with open(points_path) as f:
        spec = json.load(f)
    torch.set_num_threads(int(spec["threads"]))
    torch.manual_seed(0)
    tmp = f"{out_path}.tmp.{os.getpid()}"
    try:
        with h5py.File(tmp, "w") as out:
            out.attrs["experiment"] = "peers_torch"
            out.attrs["torch_version"] = str(torch.__version__)
            out.attrs["threads"] = torch.get_num_threads()
            out.attrs["mkldnn"] = int(torch.backends.mkldnn.is_available())
            for p in spec["points"]:
                fwd, train = time_point(p)
                g = out.create_group(f"runs/{p['run']}")
                g.attrs["config"] = f"op={p['op']},{p['config']},batch={p['batch']},seq_len={p['seq_len']}"
                for prefix, t in (("forward", fwd), ("forward_backward", train)):
                    for key in ("median", "min", "iqr"):
                        g.attrs[f"{prefix}_ms_{key}"] = t[key]
                    g.attrs[f"{prefix}_reps"] = t["reps"]
                print(f"  torch {p['run']:<28} fwd {fwd['median']:10.2f} ms  fwd+bwd {train['median']:10.2f} ms",
                      flush=True)
        os.replace(tmp, out_path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: peer_bench.py POINTS.json OUT.h5")
    main(sys.argv[1], sys.argv[2])
