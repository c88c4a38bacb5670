"""PyTorch peer for training throughput (served by peer_bench.py's `setup_lm`): the same decoder LM as
baselines/lm.h, built from the reference modules, trained with torch.optim.AdamW on random byte tokens.

Semantics follow baselines/lm.h: x = wte[ids] (+ wpe), pre-norm blocks x + mixer(norm1(x)), x + channel(norm2(x)),
norm_f, tied head. Mixers: attention (nn.MultiheadAttention with a causal mask, as subq's operator, and
optionally the fused F.scaled_dot_product_attention with --sdpa), hyena (ref_hyena.HyenaOperator); channel: ffn.
"""

import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ref_hyena  # noqa: E402
import reference  # noqa: E402
from peer_bench import SdpaAttention  # noqa: E402  (the attention peer, one definition)


def parse(text):
    own, mixer, channel = {}, {}, {}
    for item in filter(None, text.split(",")):
        key, _, value = item.partition("=")
        if key.startswith("mixer."):
            mixer[key[6:]] = value
        elif key.startswith("channel."):
            channel[key[8:]] = value
        else:
            own[key] = value
    return own, mixer, channel


class Block(nn.Module):
    def __init__(self, d, mixer, channel):
        super().__init__()
        self.norm1, self.mixer, self.norm2, self.channel = nn.LayerNorm(d), mixer, nn.LayerNorm(d), channel

    def forward(self, x):
        x = x + self.mixer(self.norm1(x))
        return x + self.channel(self.norm2(x))


class LM(nn.Module):
    def __init__(self, text, sdpa):
        super().__init__()
        own, mix, ch = parse(text)
        v, d, layers, ctx = (int(own.get(k, dflt)) for k, dflt in
                             (("vocab", 256), ("d_model", 128), ("layers", 4), ("context", 64)))
        kind = own.get("mixer", "attention")
        self.wte = nn.Embedding(v, d)
        self.wpe = nn.Embedding(ctx, d) if int(own.get("pos_emb", 1)) else None

        def mixer():
            if kind == "attention":
                h = int(mix.get("n_heads", 4))
                return SdpaAttention(d, h) if sdpa else reference.Attention(d, h)
            if kind == "hyena":
                cfg = ",".join([f"d_model={d}", f"l_max={mix.get('l_max', ctx)}"] +
                               [f"{k}={x}" for k, x in mix.items() if k != "l_max"])
                return ref_hyena.from_config(cfg)
            raise ValueError(f"peer_train: mixer {kind} not supported")

        hidden = int(ch.get("d_hidden", 4 * d))
        self.blocks = nn.ModuleList([Block(d, mixer(), reference.Ffn(d, hidden)) for _ in range(layers)])
        self.norm_f = nn.LayerNorm(d)

    def forward(self, ids, targets):
        x = self.wte(ids)
        if self.wpe is not None:
            x = x + self.wpe(torch.arange(ids.shape[1]))
        for b in self.blocks:
            x = b(x)
        logits = self.norm_f(x) @ self.wte.weight.t()
        return F.cross_entropy(logits.view(-1, logits.shape[-1]), targets.view(-1))


class Trainer:
    """One model, its AdamW and a fixed batch of random byte tokens: train() is one optimisation step as subq's
    (forward, backward, clip to 1.0, AdamW lr 1e-3, betas (0.9, 0.99), weight decay 0.1); forward() the loss alone."""

    def __init__(self, text, batch, sdpa):
        self.model = LM(text, sdpa)
        own, _, _ = parse(text)
        vocab, ctx = int(own.get("vocab", 256)), int(own.get("context", 64))
        self.opt = torch.optim.AdamW(self.model.parameters(), lr=1e-3, betas=(0.9, 0.99), weight_decay=0.1)
        self.ids = torch.randint(0, vocab, (batch, ctx))
        self.tgt = torch.randint(0, vocab, (batch, ctx))

    def forward(self):
        with torch.no_grad():
            self.model(self.ids, self.tgt)

    def train(self):
        self.opt.zero_grad(set_to_none=True)
        loss = self.model(self.ids, self.tgt)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), 1.0)
        self.opt.step()
