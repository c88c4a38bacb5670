"""Writes the golden test vectors tests/golden/*.h5 from the PyTorch reference (reference.py).

Usage: /usr/bin/python3 baselines/torch/make_golden.py OUTDIR      (or `make golden`)

Registry operators (one file per case, the format `subq op run` reads and writes):
    /x (B, L, D_in) float32, /params/<name> (PyTorch shape) float32, /dy (B, L, D_out) float32,
    expected /y, /dx, /grads/<name> float32; root attributes op, config (strings).
Inputs are drawn in float32 and stored as such; the expected values are computed in float64 from those
float32 inputs (cast up), then rounded to float32, so they are accurate to the last float32 bit and the
C operators are checked against the exact answer, not against PyTorch's float32 round-off.
Backward is y.backward(dy): dx and grads are the gradients of sum(y * dy).

Non-registry pieces (own layouts, described in each writer below): embedding, cross_entropy, adamw.
Every file is written with dataset time tracking off (and groups through the low-level API with it off),
so re-running the script gives byte-identical files.
"""

import os
import sys
import zlib

import h5py
import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import reference  # noqa: E402

# (op, tag, config, B, L)
REGISTRY_CASES = [
    ("linear", "d5x3", "d_in=5,d_out=3", 2, 4),
    ("linear", "nobias", "d_in=4,d_out=6,bias=0", 1, 3),
    ("layernorm", "d10", "d_model=10", 2, 3),
    ("gelu", "d6", "d_model=6", 2, 4),
    ("ffn", "d8h12", "d_model=8,d_hidden=12", 2, 3),
    ("attention", "d16h2_naive", "d_model=16,n_heads=2,impl=naive", 2, 5),
    ("attention", "d16h2_tiled", "d_model=16,n_heads=2,impl=tiled", 2, 5),
    # Longer than a key tile, so the tiled kernel crosses tile boundaries and the diagonal tile.
    ("attention", "d8h2_long_naive", "d_model=8,n_heads=2,impl=naive", 1, 70),
    ("attention", "d8h2_long_tiled", "d_model=8,n_heads=2,impl=tiled", 1, 70),
    ("fftconv", "d3l8", "d_model=3,l_max=8", 2, 6),
    ("fftconv", "d4l16_full", "d_model=4,l_max=16", 1, 16),
]

PARAM_NOISE = 0.1  # added to every initialised parameter, so zero-initialised biases are exercised


def seed_of(name):
    """A fixed seed per file, independent of the order of the cases."""
    return zlib.crc32(name.encode())


def as_f32(t):
    return t.detach().to(torch.float32).numpy()


class GoldenFile:
    """An h5py file whose datasets and groups carry no timestamps."""

    def __init__(self, path):
        self.path = path
        self.tmp = f"{path}.tmp.{os.getpid()}"
        self.f = h5py.File(self.tmp, "w", libver="earliest", track_order=False)

    def _group(self, path):
        parent = self.f
        for part in path.strip("/").split("/"):
            if part not in parent:
                gcpl = h5py.h5p.create(h5py.h5p.GROUP_CREATE)
                gcpl.set_obj_track_times(False)
                h5py.h5g.create(parent.id, part.encode(), gcpl=gcpl)
            parent = parent[part]
        return parent

    def dataset(self, path, data):
        head, _, name = path.strip("/").rpartition("/")
        group = self._group(head) if head else self.f
        group.create_dataset(name, data=np.ascontiguousarray(data), track_times=False)

    def attr(self, name, value):
        self.f.attrs[name] = value

    def close(self):
        self.f.close()
        os.replace(self.tmp, self.path)


def run_and_write(outdir, name, op, config, module, x, dy, params=None, extra=None):
    """Runs the float64 module on the float32 x cast up, backpropagates dy, and writes the registry-operator
    golden file OUTDIR/NAME.h5. params: the (name, tensor) pairs to store (default named_parameters());
    extra: {path: array} datasets written as well. Returns the module (after backward)."""
    x64 = x.to(torch.float64).requires_grad_(True)
    y = module(x64)
    y.backward(dy.to(torch.float64))
    params = list(module.named_parameters()) if params is None else params
    g = GoldenFile(os.path.join(outdir, f"{name}.h5"))
    g.attr("op", op)
    g.attr("config", config)
    g.dataset("x", x.numpy())
    g.dataset("dy", dy.numpy())
    for pname, p in params:
        g.dataset(f"params/{pname}", as_f32(p))
    g.dataset("y", as_f32(y))
    g.dataset("dx", as_f32(x64.grad))
    for pname, p in params:
        g.dataset(f"grads/{pname}", as_f32(p.grad if p.grad is not None else torch.zeros_like(p)))
    for path, value in (extra or {}).items():
        g.dataset(path, value)
    g.close()
    return module


def write_registry_case(outdir, op, tag, config, B, L):
    name = f"{op}_{tag}"
    torch.manual_seed(seed_of(name))
    module = reference.make_op(op, config).to(torch.float64)
    with torch.no_grad():
        for p in module.parameters():
            p.add_(PARAM_NOISE * torch.randn_like(p))
            p.copy_(p.to(torch.float32).to(torch.float64))  # the stored float32 values are the exact inputs
    if op == "linear":
        d_in, d_out = module.in_features, module.out_features
    else:
        d_in = d_out = reference.parse_config(op, config)["d_model"]
    x = torch.randn(B, L, d_in, dtype=torch.float32)
    dy = torch.randn(B, L, d_out, dtype=torch.float32)

    run_and_write(outdir, name, op, config, module, x, dy)
    return name


def write_embedding(outdir, vocab=11, d_model=4, B=2, L=6):
    """/ids (B, L) int32 (with repeats), /params/weight (V, D), /dy (B, L, D); expected /y, /grads/weight
    (repeated ids accumulate). Attributes op="embedding", config="vocab=V,d_model=D"."""
    name = "embedding_v11d4"
    torch.manual_seed(seed_of(name))
    emb = torch.nn.Embedding(vocab, d_model).to(torch.float64)
    with torch.no_grad():
        emb.weight.copy_(emb.weight.to(torch.float32).to(torch.float64))
    ids = torch.randint(0, vocab, (B, L))
    ids[0, :3] = 3      # a repeated id
    ids[1, -1] = vocab - 1  # the last row of the table
    dy = torch.randn(B, L, d_model, dtype=torch.float32)
    y = emb(ids)
    y.backward(dy.to(torch.float64))

    g = GoldenFile(os.path.join(outdir, f"{name}.h5"))
    g.attr("op", "embedding")
    g.attr("config", f"vocab={vocab},d_model={d_model}")
    g.dataset("ids", ids.to(torch.int32).numpy())
    g.dataset("params/weight", as_f32(emb.weight))
    g.dataset("dy", dy.numpy())
    g.dataset("y", as_f32(y))
    g.dataset("grads/weight", as_f32(emb.weight.grad))
    g.close()
    return name


def write_cross_entropy(outdir, rows=7, vocab=9):
    """/logits (N, V) float32, /targets (N,) int32 with one ignored row (-100, torch's ignore_index);
    expected /loss (1,) = F.cross_entropy(reduction='mean') over the counted rows and /dlogits (N, V), its
    gradient (zero on the ignored row). Attributes op="cross_entropy", config="rows=N,vocab=V"."""
    name = "cross_entropy_n7v9"
    torch.manual_seed(seed_of(name))
    logits = 3.0 * torch.randn(rows, vocab, dtype=torch.float32)
    logits[0, 0] = 40.0  # a dominant logit: log-sum-exp must not overflow or lose the rest
    targets = torch.randint(0, vocab, (rows,))
    targets[2] = -100
    l64 = logits.to(torch.float64).requires_grad_(True)
    loss = F.cross_entropy(l64, targets, reduction="mean", ignore_index=-100)
    loss.backward()

    g = GoldenFile(os.path.join(outdir, f"{name}.h5"))
    g.attr("op", "cross_entropy")
    g.attr("config", f"rows={rows},vocab={vocab}")
    g.dataset("logits", logits.numpy())
    g.dataset("targets", targets.to(torch.int32).numpy())
    g.dataset("loss", np.array([loss.item()], dtype=np.float32))
    g.dataset("dlogits", as_f32(l64.grad))
    g.close()
    return name


def write_adamw(outdir, n=24, steps=5):
    """/p0 (n,), /grads (steps, n), expected /expected (steps, n): the parameters after each step of
    torch.optim.AdamW(lr=1e-2, betas=(0.9, 0.95), eps=1e-8, weight_decay=0.1, foreach=False) run in
    float32 (PyTorch's own float32 arithmetic, so a bit-faithful C port agrees to a few ulps). Root
    attributes: op="adamw", config, precision, and lr, beta1, beta2, eps, weight_decay (doubles)."""
    name = "adamw_n24"
    hyper = dict(lr=1e-2, beta1=0.9, beta2=0.95, eps=1e-8, weight_decay=0.1)
    torch.manual_seed(seed_of(name))
    p0 = torch.randn(n, dtype=torch.float32)
    # Gradients over four decades, so both the eps-dominated and the sqrt(v)-dominated regimes show.
    scales = 10.0 ** torch.linspace(-4.0, 0.0, n)
    grads = torch.randn(steps, n, dtype=torch.float32) * scales
    grads[2, :4] = 0.0  # a step with zero gradient on some entries: decay and momentum only

    p = torch.nn.Parameter(p0.clone())
    opt = torch.optim.AdamW([p], lr=hyper["lr"], betas=(hyper["beta1"], hyper["beta2"]), eps=hyper["eps"],
                            weight_decay=hyper["weight_decay"], foreach=False)
    expected = torch.empty(steps, n, dtype=torch.float32)
    for t in range(steps):
        p.grad = grads[t].clone()
        opt.step()
        expected[t] = p.detach()

    g = GoldenFile(os.path.join(outdir, f"{name}.h5"))
    g.attr("op", "adamw")
    g.attr("config", ",".join(f"{k}={v}" for k, v in hyper.items()))
    g.attr("precision", "float32: torch.optim.AdamW(foreach=False) on float32 tensors")
    for key, value in hyper.items():
        g.attr(key, float(value))
    g.dataset("p0", p0.numpy())
    g.dataset("grads", grads.numpy())
    g.dataset("expected", expected.numpy())
    g.close()
    return name


def main(argv):
    if len(argv) != 2:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    outdir = argv[1]
    os.makedirs(outdir, exist_ok=True)
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(1)
    names = [write_registry_case(outdir, *case) for case in REGISTRY_CASES]
    names += [write_embedding(outdir), write_cross_entropy(outdir), write_adamw(outdir)]
    for name in names:
        path = os.path.join(outdir, f"{name}.h5")
        print(f"{path}: {os.path.getsize(path)} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
