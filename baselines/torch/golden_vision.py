"""Writes the golden vectors of the image operators, tests/golden/conv2d_*.h5 and longconv2d_*.h5, from
ref_vision.Conv2dSeq (torch.nn.Conv2d) and ref_vision.LongConv2d.

Usage: /usr/bin/python3 baselines/torch/golden_vision.py OUTDIR      (Debian's python3-torch and python3-h5py)

Layout: the registry-operator format of make_golden.py (/x (B, H W, C_in), /params/<name>, /dy, expected /y, /dx,
/grads/<name>; root attributes op, config), read by tests/test_golden.c and `subq op run`. Modules are built in
float32 (so the longconv2d buffers are float32 as the C side computes them), every parameter gets N(0, 0.1)
noise in float32, then the module runs in float64 on the float32 inputs cast up: the expected values are exact
to float32 rounding.
"""

import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_golden import PARAM_NOISE, run_and_write, seed_of  # noqa: E402
from ref_vision import conv2d_from_config, longconv2d_from_config  # noqa: E402

# (file name, op, config, B)
CASES = [
    ("conv2d_dense_k3", "conv2d", "d_in=3,d_out=4,height=5,width=6,kernel=3", 2),
    ("conv2d_depthwise_k5", "conv2d", "d_in=4,d_out=4,height=4,width=5,kernel=5,groups=4", 2),
    ("conv2d_grouped_nobias", "conv2d", "d_in=4,d_out=6,height=3,width=4,kernel=3,groups=2,bias=0", 2),
    ("longconv2d_h5w6", "longconv2d", "d_model=4,height=5,width=6,filter_order=8", 2),
    ("longconv2d_h8w8_shift", "longconv2d",
     "d_model=3,height=8,width=8,filter_order=8,emb_dim=6,num_inner_mlps=1,shift=0.05,w=2", 2),
]


def write_case(outdir, name, op, config, batch):
    torch.manual_seed(seed_of(name))
    module = conv2d_from_config(config) if op == "conv2d" else longconv2d_from_config(config)
    with torch.no_grad():
        for p in module.parameters():
            p.add_(PARAM_NOISE * torch.randn_like(p))
    module = module.to(torch.float64)
    length = module.height * module.width
    d_in = module.in_channels if op == "conv2d" else module.d_model
    d_out = module.out_channels if op == "conv2d" else module.d_model
    x = torch.randn(batch, length, d_in, dtype=torch.float32)
    dy = torch.randn(batch, length, d_out, dtype=torch.float32)
    run_and_write(outdir, name, op, config, module, x, dy)


def main():
    outdir = sys.argv[1] if len(sys.argv) > 1 else "tests/golden"
    os.makedirs(outdir, exist_ok=True)
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(1)
    for name, op, config, batch in CASES:
        write_case(outdir, name, op, config, batch)
        print(f"wrote {outdir}/{name}.h5")


if __name__ == "__main__":
    main()
