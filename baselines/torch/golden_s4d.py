"""Writes the S4D golden vectors tests/golden/s4d_*.h5 from ref_s4d.S4D (the registry-operator format of
make_golden.py: /x, /params/<name>, /dy, expected /y, /dx, /grads/<name>; root attributes op, config).

Usage: /usr/bin/python3 baselines/torch/golden_s4d.py OUTDIR      (Debian's python3-torch and python3-h5py)

Parameters get N(0, 0.1) noise in float32 (so the deterministic A init does not hide a wrong gradient), then
the module runs in float64 on the float32 inputs cast up: the expected values are exact to float32 rounding.
"""

import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_golden import PARAM_NOISE, run_and_write, seed_of  # noqa: E402
from ref_s4d import from_config  # noqa: E402

CASES = [
    ("s4d_d4n8", "d_model=4,d_state=8", 2, 16),
    ("s4d_d3n4_l33", "d_model=3,d_state=4", 2, 33),
]


def write_case(outdir, name, config, batch, length):
    torch.manual_seed(seed_of(name))
    module = from_config(config)
    with torch.no_grad():
        for p in module.parameters():
            p.add_(PARAM_NOISE * torch.randn_like(p))
    module = module.to(torch.float64)
    d_model = module.h
    x = torch.randn(batch, length, d_model, dtype=torch.float32)
    dy = torch.randn(batch, length, d_model, dtype=torch.float32)
    run_and_write(outdir, name, "s4d", config, module, x, dy)


def main():
    outdir = sys.argv[1] if len(sys.argv) > 1 else "tests/golden"
    os.makedirs(outdir, exist_ok=True)
    for name, config, batch, length in CASES:
        write_case(outdir, name, config, batch, length)
        print(f"wrote {outdir}/{name}.h5")


if __name__ == "__main__":
    main()
