#!/usr/bin/python3
"""Writes the golden fixture tests/data/gpt_golden.safetensors for a tiny GPT, computed by PyTorch.

Run with Debian's Python (it has torch 1.13 and numpy; the python3 on PATH may lack torch):

    /usr/bin/python3 tools/gpt_golden.py tests/data/gpt_golden.safetensors

Model: the architecture of the peer benchmark char_gpt.py (nanoGPT with bias=False, dropout 0),
written out functionally here in float64 (every tensor is stored as F32):
    vocab V=11, layers L=2, heads NH=2, embedding C=8, context T=6, batch B=3; no biases anywhere.
    x0 = wte[idx] + wpe[0..T)
    each block: x = x + attn(ln_1(x)); x = x + mlp_c_proj(gelu(c_fc(ln_2(x))))
    LayerNorm: weight only, no bias, eps 1e-5. GELU: exact (erf) form, F.gelu's default.
    attn: q, k, v = split(x @ c_attn^T, C, dim=-1), c_attn (3C, C); NH heads of size C/NH;
          scores scaled by 1/sqrt(C/NH), causal mask, softmax; concatenated heads @ c_proj^T, c_proj (C, C).
    MLP: c_fc (4C, C), mlp_c_proj (C, 4C).
    logits = ln_f(x) @ wte^T (LM head tied to wte); loss = mean cross-entropy over all B*T positions.
Initial weights: torch.manual_seed(1234), then, in the order of PARAMETER_NAMES below, every LayerNorm
    weight 1 + 0.1*N(0, 1); every matrix N(0, 0.3) except c_proj and mlp_c_proj N(0, 0.2). Each draw
    is rounded to float32 before use, so the stored initial parameters are exactly the ones used.
Batch: input ids (B, T) then target ids (B, T), torch.randint over [0, V) with a generator seeded 99.
Optimizer: torch.optim.AdamW(lr 1e-2, betas (0.9, 0.99), eps 1e-8) with two parameter groups:
    weight_decay 0.1 for every parameter with dim >= 2 (wte, wpe, all linear weights), 0 for the
    LayerNorm weights. Each of 5 steps: zero grads, loss = forward(same batch), backward,
    torch.nn.utils.clip_grad_norm_(params, 1.0), opt.step().

Tensors (names are courier's parameter names; for block l, a = 1 + 2l and m = 2 + 2l):
    0.wte (V,C), 0.wpe (T,C); {a}.0.weight = ln_1 (C), {a}.1.qkv_weight = c_attn (3C,C),
    {a}.1.proj_weight = c_proj (C,C); {m}.0.weight = ln_2 (C), {m}.1.weight = c_fc (4C,C),
    {m}.3.weight = mlp_c_proj (C,4C); {1+2L}.weight = ln_f (C).
    param.<name>   initial parameters            input, target   token ids (B,T) as float32
    logits (B,T,V), loss [1]                     of the initial parameters
    grad.<name>    gradient of the mean loss at the initial parameters (before clipping)
    grad_norm [1]  total L2 norm of the gradients at step 1 (clip_grad_norm_'s return value)
    losses [5]     loss with the parameters after step k, k = 1..5
    final.<name>   parameters after the 5 steps
The file is written by tools/safetensors_check.py's independent writer (tensors sorted by name) and
read back to verify it.
"""

import math
import sys
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
from safetensors_check import read_safetensors, write_safetensors  # noqa: E402

V, L, NH, C, T, B = 11, 2, 2, 8, 6, 3
LR, BETAS, EPS, WEIGHT_DECAY, CLIP, STEPS = 1e-2, (0.9, 0.99), 1e-8, 0.1, 1.0, 5
LN_EPS = 1e-5


def block_names(l):
    a, m = 1 + 2 * l, 2 + 2 * l
    return {"ln_1": f"{a}.0.weight", "c_attn": f"{a}.1.qkv_weight", "c_proj": f"{a}.1.proj_weight",
            "ln_2": f"{m}.0.weight", "c_fc": f"{m}.1.weight", "mlp_c_proj": f"{m}.3.weight"}


LN_F = f"{1 + 2 * L}.weight"
# (name, shape, init kind) in draw order.
PARAMETERS = [("0.wte", (V, C), 0.3), ("0.wpe", (T, C), 0.3)]
for _l in range(L):
    _n = block_names(_l)
    PARAMETERS += [(_n["ln_1"], (C,), "ln"), (_n["c_attn"], (3 * C, C), 0.3), (_n["c_proj"], (C, C), 0.2),
                   (_n["ln_2"], (C,), "ln"), (_n["c_fc"], (4 * C, C), 0.3), (_n["mlp_c_proj"], (C, 4 * C), 0.2)]
PARAMETERS.append((LN_F, (C,), "ln"))
PARAMETER_NAMES = [name for name, _, _ in PARAMETERS]


def init_parameters():
    torch.manual_seed(1234)
    params = {}
    for name, shape, kind in PARAMETERS:
        noise = torch.randn(shape, dtype=torch.float64)
        value = 1.0 + 0.1 * noise if kind == "ln" else kind * noise
        params[name] = value.float().double().requires_grad_()  # exactly representable in F32
    return params


def layer_norm(x, weight):
    return F.layer_norm(x, weight.shape, weight, None, LN_EPS)


def attention(x, qkv_weight, proj_weight):
    b, t, c = x.shape
    hs = c // NH
    q, k, v = (x @ qkv_weight.T).split(c, dim=2)
    q, k, v = (z.view(b, t, NH, hs).transpose(1, 2) for z in (q, k, v))
    scores = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(hs))
    causal = torch.tril(torch.ones(t, t, dtype=torch.bool))
    att = F.softmax(scores.masked_fill(~causal, float("-inf")), dim=-1)
    return (att @ v).transpose(1, 2).contiguous().view(b, t, c) @ proj_weight.T


def forward(params, idx, targets):
    """Returns (logits (B,T,V), mean cross-entropy loss)."""
    x = params["0.wte"][idx] + params["0.wpe"][: idx.shape[1]]
    for l in range(L):
        n = {k: params[v] for k, v in block_names(l).items()}
        x = x + attention(layer_norm(x, n["ln_1"]), n["c_attn"], n["c_proj"])
        x = x + F.gelu(layer_norm(x, n["ln_2"]) @ n["c_fc"].T) @ n["mlp_c_proj"].T
    logits = layer_norm(x, params[LN_F]) @ params["0.wte"].T
    return logits, F.cross_entropy(logits.reshape(-1, V), targets.reshape(-1))


def f32(t):
    return t.detach().to(torch.float32).numpy().copy()


def main():
    if len(sys.argv) != 2:
        sys.exit(f"usage: /usr/bin/python3 {sys.argv[0]} OUT.safetensors")
    out = Path(sys.argv[1])
    params = init_parameters()
    gen = torch.Generator().manual_seed(99)
    idx = torch.randint(0, V, (B, T), generator=gen)
    targets = torch.randint(0, V, (B, T), generator=gen)

    tensors = {f"param.{name}": f32(params[name]) for name in PARAMETER_NAMES}
    tensors["input"] = idx.numpy().astype(np.float32)
    tensors["target"] = targets.numpy().astype(np.float32)

    logits, loss = forward(params, idx, targets)
    grads = torch.autograd.grad(loss, [params[name] for name in PARAMETER_NAMES])
    tensors["logits"] = f32(logits)
    tensors["loss"] = f32(loss.reshape(1))
    tensors.update({f"grad.{name}": f32(g) for name, g in zip(PARAMETER_NAMES, grads)})

    plist = [params[name] for name in PARAMETER_NAMES]
    opt = torch.optim.AdamW([{"params": [p for p in plist if p.dim() >= 2], "weight_decay": WEIGHT_DECAY},
                             {"params": [p for p in plist if p.dim() < 2], "weight_decay": 0.0}],
                            lr=LR, betas=BETAS, eps=EPS)
    norms, losses = [], []
    for _ in range(STEPS):
        opt.zero_grad(set_to_none=True)
        _, step_loss = forward(params, idx, targets)
        step_loss.backward()
        norms.append(float(torch.nn.utils.clip_grad_norm_(plist, CLIP)))
        opt.step()
        with torch.no_grad():
            losses.append(float(forward(params, idx, targets)[1]))
    if norms[0] <= CLIP:
        sys.exit(f"grad norm {norms[0]} at step 1 does not exceed the clip {CLIP}: scale the init up")
    direct_norm = float(torch.sqrt(sum((g * g).sum() for g in grads)))
    assert abs(direct_norm - norms[0]) <= 1e-12 * norms[0], (direct_norm, norms[0])
    tensors["grad_norm"] = np.array([norms[0]], dtype=np.float32)
    tensors["losses"] = np.array(losses, dtype=np.float32)
    tensors.update({f"final.{name}": f32(params[name]) for name in PARAMETER_NAMES})

    metadata = {"vocab": str(V), "layers": str(L), "heads": str(NH), "embedding": str(C), "context": str(T),
                "batch": str(B), "lr": str(LR), "beta1": str(BETAS[0]), "beta2": str(BETAS[1]), "eps": str(EPS),
                "weight_decay": str(WEIGHT_DECAY), "clip": str(CLIP), "steps": str(STEPS)}
    write_safetensors(out, tensors, metadata)

    # Read back: header, layout and every tensor must round-trip exactly.
    back, back_meta = read_safetensors(out)
    assert back_meta == metadata, back_meta
    assert sorted(back) == sorted(tensors), sorted(back)
    for name, value in tensors.items():
        assert back[name].shape == value.shape and np.array_equal(back[name], value), name
    fresh = init_parameters()  # the initial wte, drawn again, against the file's copy
    assert np.array_equal(back["param.0.wte"], fresh["0.wte"].detach().numpy().astype(np.float32))

    print(f"loss {loss.item():.10f}")
    print(f"grad_norm {norms[0]:.10f} (step norms {', '.join(f'{n:.6f}' for n in norms)}; clip {CLIP})")
    print(f"losses {', '.join(f'{x:.10f}' for x in losses)}")
    print(f"wrote {out}: {len(tensors)} tensors, {out.stat().st_size} bytes")


if __name__ == "__main__":
    main()
