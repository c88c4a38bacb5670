"""PyTorch peer timings for `subq reproduce` (experiment `peers`): the same operators at the same shapes, timed
with the current PyTorch release on the CPU, in alternating rounds with subq (bench/harness/pair.h).

Usage: .venv/bin/python baselines/torch/peer_bench.py --serve --threads N
Serves requests on stdin, one line each, and answers each with one line on stdout:
  info                                  -> "info torch=<version> threads=<n> mkl=<version> onednn=<version>
                                           cpu_capability=<AVX2|AVX512|...>"
  setup <op> <config> <batch> <seq_len> -> "ok"  (builds the module and inputs; the config is subq's)
  setup_lm <lm config> <batch> <sdpa>   -> "ok"  (a language model to train, peer_train.py; sdpa 0|1)
  time forward|train <reps>             -> "ms <t1> <t2> ..."  (back-to-back repetitions, milliseconds; for a
                                           language model, train is one optimisation step)
  anything wrong                        -> "error <message>"
It exits at the end of its input. The peers, chosen to be what a PyTorch user would run:
  attention  impl=tiled: in/out projections + F.scaled_dot_product_attention(is_causal=True), PyTorch's fused
             kernel; impl=naive: the same projections + explicit softmax(QK^T / sqrt(d) + causal mask) V;
  fftconv    torch.fft.rfft/irfft of length 2L on (B, D, L), the official Hyena code's fftconv;
  hyena      the reference HyenaOperator (baselines/torch/ref_hyena.py, the official module's semantics);
  s4d        the reference S4D module (baselines/torch/ref_s4d.py);
  ffn        fc2(gelu(fc1(x)));  linear  nn.Linear.
forward runs under torch.no_grad(); train is forward + backward with autograd (y.backward(dy)), gradients
cleared first, as subq's forward+backward.
"""

import os
import re
import sys
import time

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


class ExplicitAttention(SdpaAttention):
    """The naive-attention peer: the same projections, the L x L probabilities written out."""

    def forward(self, x):
        b, l, d = x.shape
        q, k, v = self.in_proj(x).view(b, l, 3, self.n_heads, d // self.n_heads).permute(2, 0, 3, 1, 4)
        scores = q @ k.transpose(-2, -1) / (d // self.n_heads) ** 0.5
        mask = torch.ones(l, l, dtype=torch.bool).triu(1)
        y = torch.softmax(scores.masked_fill(mask, float("-inf")), dim=-1) @ v
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
        cls = ExplicitAttention if c.get("impl", "naive") == "naive" else SdpaAttention
        return cls(d, int(c["n_heads"])), False
    if op == "linear":
        return nn.Linear(int(c.get("d_in", 64)), int(c.get("d_out", 64)), bias=c.get("bias", "1") != "0"), False
    if op == "fftconv":
        return FftConv(d, int(c["l_max"])), True
    if op == "hyena":
        return ref_hyena.from_config(config), False
    if op == "ffn":
        return reference.Ffn(d, int(c["d_hidden"])), False
    if op == "s4d":
        import ref_s4d  # noqa: E402

        return ref_s4d.from_config(config), False
    raise ValueError(f"peer_bench: no PyTorch peer for operator '{op}'")


class Point:
    """One operator at one shape: the module, an input and an upstream gradient."""

    def __init__(self, op, config, batch, seq_len):
        self.module, channel_major = build(op, config)
        c = parse(config)
        d = int(c.get("d_in", c.get("d_model", 64)))
        d_out = int(c.get("d_out", d))
        shape = (batch, d, seq_len) if channel_major else (batch, seq_len, d)
        out_shape = (batch, d_out, seq_len) if channel_major else (batch, seq_len, d_out)
        self.x = torch.randn(*shape)
        self.xg = self.x.clone().requires_grad_(True)
        self.dy = torch.randn(*out_shape)

    def forward(self):
        with torch.no_grad():
            self.module(self.x)

    def train(self):
        self.module.zero_grad(set_to_none=True)
        self.xg.grad = None
        self.module(self.xg).backward(self.dy)


def timed(body, reps):
    out = []
    for _ in range(reps):
        t0 = time.perf_counter()
        body()
        out.append((time.perf_counter() - t0) * 1e3)
    return out


def info():
    """Versions as key=value words: torch, threads, the MKL and oneDNN releases and the CPU capability used."""
    show = torch.__config__.show()

    def find(pattern):
        m = re.search(pattern, show)
        return m.group(1).replace(" ", "_") if m else "none"

    mkl = find(r"Math Kernel Library Version (\S+)")
    onednn = find(r"MKL-DNN v(\S+)")
    capability = find(r"CPU capability usage: (\S+)")
    return (f"info torch={torch.__version__} threads={torch.get_num_threads()} mkl={mkl} onednn={onednn} "
            f"cpu_capability={capability}")


def answer(words, state):
    if words == ["info"]:
        return info()
    if len(words) == 4 and words[0] == "setup_lm":
        import peer_train  # noqa: E402  (imports this module's SdpaAttention)

        state["point"] = peer_train.Trainer(words[1], int(words[2]), words[3] == "1")
        return "ok"
    if len(words) == 5 and words[0] == "setup":
        state["point"] = Point(words[1], words[2], int(words[3]), int(words[4]))
        return "ok"
    if len(words) == 3 and words[0] == "time" and words[1] in ("forward", "train"):
        if "point" not in state:
            raise ValueError("time before setup")
        reps = int(words[2])
        if not 1 <= reps <= 1000:
            raise ValueError(f"{reps} repetitions (1 to 1000)")
        p = state["point"]
        return "ms " + " ".join(f"{t:.6f}" for t in timed(p.forward if words[1] == "forward" else p.train, reps))
    raise ValueError(f"unknown request '{' '.join(words)}'")


def serve(threads):
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    state = {}
    for line in sys.stdin:
        try:
            reply = answer(line.split(), state)
        except Exception as e:  # every failure is an answer; subq decides what to do with it
            reply = "error " + " ".join(f"{type(e).__name__}: {e}".split())
        print(reply, flush=True)


if __name__ == "__main__":
    if len(sys.argv) != 4 or sys.argv[1] != "--serve" or sys.argv[2] != "--threads":
        sys.exit("usage: peer_bench.py --serve --threads N")
    serve(int(sys.argv[3]))
