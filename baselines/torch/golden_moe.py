"""Writes the MoE golden vectors tests/golden/moe_<case>.h5 from baselines/torch/ref_moe.py.

Usage: /usr/bin/python3 baselines/torch/golden_moe.py OUTDIR      (Debian's python3-torch and python3-h5py)

Layout: the registry-operator format of make_golden.py (read generically by tests/test_golden.c):
    /x (B, L, D) float32, /params/<name> (PyTorch shape) float32, /dy (B, L, D) float32,
    expected /y, /dx, /grads/<name> float32; root attributes op="moe", config (the C config string).
The cases are noise-free (mode=infer, or noise=0), as the noise is this project's hash rather than a
PyTorch draw, with k = 1 and k = 2 and one capacity-limited case. Every parameter, including the
zero-initialised gate and noise weights, gets N(0, 0.1) noise in float32; the module then runs in float64 on
the float32 inputs cast up, so the expected values are exact to float32 rounding. The routing must not hinge
on float32 round-off: a case is redrawn (next seed) until every token's k-th and (k+1)-th logits differ by at
least ROUTE_MARGIN and no ReLU input is within RELU_MARGIN of zero. A tensor that gets no gradient
(noise.weight without noise) is stored as zeros (make_golden.run_and_write).
"""

import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_golden import PARAM_NOISE, run_and_write, seed_of  # noqa: E402
from ref_moe import from_config  # noqa: E402

# (file name, C config, B, L)
CASES = [
    ("moe_k1_infer", "d_model=8,n_experts=4,top_k=1,d_hidden=6,mode=infer", 2, 5),
    ("moe_k2_nonoise_gelu", "d_model=8,n_experts=5,top_k=2,d_hidden=6,activation=gelu,noise=0", 2, 5),
    ("moe_k2_capacity", "d_model=8,n_experts=4,top_k=2,d_hidden=5,mode=infer,capacity_factor=0.75", 2, 6),
]
ROUTE_MARGIN = 1e-3
RELU_MARGIN = 1e-4


def margins_ok(module, x64):
    """True if float32 round-off cannot change the routing or a ReLU's side."""
    x = x64.reshape(-1, module.d_model)
    with torch.no_grad():
        logits = module.gate(x)
        if module.k < module.n_experts:
            top = logits.topk(module.k + 1, dim=1).values
            if (top[:, module.k - 1] - top[:, module.k]).min() < ROUTE_MARGIN:
                return False
        for e in range(module.n_experts):
            if module.experts.fc1(x, e).abs().min() < RELU_MARGIN:
                return False
    return True


def draw_case(name, config, B, L):
    for attempt in range(100):
        torch.manual_seed(seed_of(name) + attempt)
        module = from_config(config)
        with torch.no_grad():
            for p in module.parameters():
                p.add_(PARAM_NOISE * torch.randn_like(p))
        module = module.to(torch.float64)
        x = torch.randn(B, L, module.d_model, dtype=torch.float32)
        dy = torch.randn(B, L, module.d_model, dtype=torch.float32)
        if margins_ok(module, x.to(torch.float64)):
            return module, x, dy
    raise RuntimeError(f"{name}: no draw with safe routing margins")


def write_case(outdir, name, config, B, L):
    module, x, dy = draw_case(name, config, B, L)
    return run_and_write(outdir, name, "moe", config, module, x, dy).aux


def main():
    outdir = sys.argv[1] if len(sys.argv) > 1 else "tests/golden"
    os.makedirs(outdir, exist_ok=True)
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(1)
    for name, config, B, L in CASES:
        aux = write_case(outdir, name, config, B, L)
        print(f"wrote {outdir}/{name}.h5 (dropped assignments: {aux['dropped_assignments']})")


if __name__ == "__main__":
    main()
