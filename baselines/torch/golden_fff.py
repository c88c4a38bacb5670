"""Writes the FFF golden vectors tests/golden/fff_<case>.h5 from baselines/torch/ref_fff.py (the official
fastfeedforward FFF and UltraFastBERT FFF, re-implemented and checked against the official code).

Usage: /usr/bin/python3 baselines/torch/golden_fff.py OUTDIR      (Debian's python3-torch and python3-h5py)

Layout: the registry-operator format of make_golden.py (read generically by tests/test_golden.c):
    /x (B, L, D) float32, /params/<name> (PyTorch shape) float32, /dy (B, L, D) float32,
    expected /y, /dx, /grads/<name> float32; root attributes op="fff", config (the C config string).
Only the trainable float tensors are stored: the official FFF's `depth` (a non-trainable long Parameter) is
the config's depth. Parameters are initialised officially in float32, get N(0, 0.1) noise in float32, then
the module is cast to float64 and run on the float32 inputs cast up, so the expected values are exact to
float32 rounding. Backward is y.backward(dy) (the hardening term is not part of the registry's backward).
In inference mode a tensor that gets no gradient (the routing nodes) is stored as zeros.
"""

import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_golden import PARAM_NOISE, run_and_write, seed_of  # noqa: E402
from ref_fff import from_config  # noqa: E402

# (file name, C config, B, L)
CASES = [
    ("fff_train_relu", "d_model=8,depth=3,leaf_width=4", 2, 3),
    ("fff_train_gelu", "d_model=8,depth=2,leaf_width=3,activation=gelu", 2, 3),
    ("fff_infer", "d_model=8,depth=3,leaf_width=4,mode=infer", 2, 3),
    # two leaves, 24 tokens: most leaves get >= 8 tokens, so the C batch path runs its per-leaf GEMMs
    ("fff_infer_gemm", "d_model=8,depth=1,leaf_width=5,activation=gelu,mode=infer", 2, 12),
    ("fff_ufb_train", "d_model=8,depth=2,variant=ufb,parallel_size=2", 2, 3),
    ("fff_ufb_infer", "d_model=8,depth=2,variant=ufb,parallel_size=2,mode=infer", 2, 3),
]


def trainable(module):
    return [(name, p) for name, p in module.named_parameters() if p.requires_grad]


def write_case(outdir, name, config, B, L):
    torch.manual_seed(seed_of(name))
    module = from_config(config)
    with torch.no_grad():
        for _, p in trainable(module):
            p.add_(PARAM_NOISE * torch.randn_like(p))
    module = module.to(torch.float64)
    d_model = module.input_width
    x = torch.randn(B, L, d_model, dtype=torch.float32)
    dy = torch.randn(B, L, d_model, dtype=torch.float32)
    run_and_write(outdir, name, "fff", config, module, x, dy, params=trainable(module))


def main():
    outdir = sys.argv[1] if len(sys.argv) > 1 else "tests/golden"
    os.makedirs(outdir, exist_ok=True)
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(1)
    for name, config, B, L in CASES:
        write_case(outdir, name, config, B, L)
        print(f"wrote {outdir}/{name}.h5")


if __name__ == "__main__":
    main()
