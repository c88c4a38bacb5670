"""The S4D layer of state-spaces/s4 (`models/s4/s4d.py`), re-implemented from its published semantics
(SEMANTICS-hyena-s4d.md section 2) with the same parameter names and named_parameters() order, so a
state_dict moves between this module, the official one and subq's `s4d` operator unchanged:
    D (H), kernel.C (H, N/2, 2), kernel.log_dt (H), kernel.log_A_real (H, N/2), kernel.A_imag (H, N/2),
    output_linear.0.weight (2H, H, 1), output_linear.0.bias (2H).
Called on (B, L, H) like S4D(..., transposed=False); returns y only (the official forward returns (y, None)).
Dropout is not implemented (p = 0, the default).

Checked against the official module (state-spaces/s4 e757cef, models/s4/s4d.py, run with transposed=False under
torch 1.13): the same named_parameters() names, shapes, order and _optim dicts, the same initial values under one
torch.manual_seed, and bit-identical y, dx and parameter gradients in float64 after load_state_dict(strict=True),
for (H, N, L) = (4, 8, 16), (3, 4, 33), (8, 64, 200), (5, 6, 1).
"""

import math

import torch
import torch.nn as nn
import torch.nn.functional as F


class S4DKernel(nn.Module):
    def __init__(self, d_model, n=64, dt_min=0.001, dt_max=0.1):
        super().__init__()
        h = d_model
        log_dt = torch.rand(h) * (math.log(dt_max) - math.log(dt_min)) + math.log(dt_min)
        c = torch.randn(h, n // 2, dtype=torch.cfloat)
        self.C = nn.Parameter(torch.view_as_real(c))
        self.log_dt = nn.Parameter(log_dt)
        self.log_A_real = nn.Parameter(torch.log(0.5 * torch.ones(h, n // 2)))
        self.A_imag = nn.Parameter(math.pi * torch.arange(n // 2).float().repeat(h, 1))
        for p in (self.log_dt, self.log_A_real, self.A_imag):
            p._optim = {"weight_decay": 0.0}

    def forward(self, length):
        dt = torch.exp(self.log_dt)
        c = torch.view_as_complex(self.C)
        a = -torch.exp(self.log_A_real) + 1j * self.A_imag
        dta = a * dt.unsqueeze(-1)
        powers = dta.unsqueeze(-1) * torch.arange(length, device=a.device, dtype=dt.dtype)
        c = c * (torch.exp(dta) - 1.0) / a
        return 2 * torch.einsum("hn,hnl->hl", c, torch.exp(powers)).real


class S4D(nn.Module):
    def __init__(self, d_model, d_state=64, dt_min=0.001, dt_max=0.1):
        super().__init__()
        self.h = d_model
        self.D = nn.Parameter(torch.randn(d_model))
        self.kernel = S4DKernel(d_model, n=d_state, dt_min=dt_min, dt_max=dt_max)
        self.output_linear = nn.Sequential(nn.Conv1d(d_model, 2 * d_model, kernel_size=1), nn.GLU(dim=-2))

    def forward(self, u):
        u = u.transpose(-1, -2)  # (B, H, L)
        length = u.size(-1)
        k = self.kernel(length)
        k_f = torch.fft.rfft(k, n=2 * length)
        u_f = torch.fft.rfft(u, n=2 * length)
        y = torch.fft.irfft(u_f * k_f, n=2 * length)[..., :length]
        y = y + u * self.D.unsqueeze(-1)
        y = self.output_linear(F.gelu(y))
        return y.transpose(-1, -2)


def from_config(text):
    """S4D configured by the C operator's config string ("d_model=..,d_state=..,dt_min=..,dt_max=..")."""
    c = dict(d_model=64, d_state=64, dt_min=0.001, dt_max=0.1)
    for item in filter(None, text.split(",")):
        key, _, value = item.partition("=")
        if key not in c:
            raise ValueError(f"s4d config: unknown key '{key}'")
        c[key] = type(c[key])(float(value)) if key.startswith("dt") else int(value)
    return S4D(c["d_model"], c["d_state"], c["dt_min"], c["dt_max"])
