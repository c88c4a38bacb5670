"""Writes the Hyena golden vectors tests/golden/hyena_o2.h5 and hyena_o3.h5 from ref_hyena.HyenaOperator.

Usage: /usr/bin/python3 baselines/torch/golden_hyena.py OUTDIR      (Debian's python3-torch and python3-h5py)

Layout (the registry-operator format of make_golden.py, read by `subq op run` and tests/test_hyena.c):
    /x (B, L, D) float32, /params/<name> (PyTorch shape) float32, /dy (B, L, D) float32,
    expected /y, /dx, /grads/<name> float32; root attributes op="hyena", config (the C config string);
    plus /buffers/t (1, l_max, 1) and /buffers/deltas (1, 1, (o-1)D): the module's float32 buffers as torch
    builds them, which the C operator recomputes.
The module is built in float32 (so z, t and deltas are torch's float32 values), every parameter except
filter_fn.pos_emb.z gets N(0, 0.1) noise in float32 (z stays at its default, so the file also pins the C
default init of z), then the module is cast to float64 and run on the float32 inputs cast up: the expected
values are exact to float32 rounding. L = 12 < l_max = 16 exercises the l_max grid of t and z.
"""

import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_golden import PARAM_NOISE, run_and_write, seed_of  # noqa: E402
from ref_hyena import from_config  # noqa: E402

CASES = [
    ("hyena_o2", "d_model=8,l_max=16,order=2,filter_order=8"),
    ("hyena_o3", "d_model=8,l_max=16,order=3,filter_order=8"),
]
B, L = 2, 12


def write_case(outdir, name, config):
    torch.manual_seed(seed_of(name))
    module = from_config(config)
    with torch.no_grad():
        for pname, p in module.named_parameters():
            if pname != "filter_fn.pos_emb.z":
                p.add_(PARAM_NOISE * torch.randn_like(p))
    t_buffer = module.filter_fn.pos_emb.t.detach().clone()
    deltas_buffer = module.filter_fn.modulation.deltas.detach().clone()
    module = module.to(torch.float64)
    d_model = module.d_model
    x = torch.randn(B, L, d_model, dtype=torch.float32)
    dy = torch.randn(B, L, d_model, dtype=torch.float32)
    run_and_write(outdir, name, "hyena", config, module, x, dy,
                  extra={"buffers/t": t_buffer.numpy(), "buffers/deltas": deltas_buffer.numpy()})


def main():
    outdir = sys.argv[1] if len(sys.argv) > 1 else "tests/golden"
    os.makedirs(outdir, exist_ok=True)
    for name, config in CASES:
        write_case(outdir, name, config)
        print(f"wrote {outdir}/{name}.h5")


if __name__ == "__main__":
    main()
