"""The same model as a generated LnsDsl model, in PyTorch, to compare `lnsrun bench` against on the same GPU.

It mirrors the generated code op for op (see a model's .g.cs): fused qkv projection split into [q | k] and v,
rotary embeddings (rotate_half), scaled_dot_product_attention with the causal flag, fused gate_up projection and
SwiGLU, RMSNorm computed in fp32 with the LNS factor 1/sqrt(l) folded into the norm weight, an unscaled final
norm, an untied head, cross-entropy in fp32, Adam. Eager mode by default, like TorchSharp; --compile for torch.compile.

    python3 reference_model.py --layers 12 --hidden 256 --heads 8 --ffn 704 --vocab 8192 --batch 8 --seq 256 --device cuda
"""
import argparse, contextlib, json, math, statistics, time
import torch
import torch.nn.functional as F


class Model(torch.nn.Module):
    def __init__(s, a):
        super().__init__()
        s.a = a
        d = a.hidden // a.heads
        s.embed = torch.nn.Parameter(torch.randn(a.vocab, a.hidden) * 0.02)
        s.qkv = torch.nn.ParameterList([torch.nn.Parameter(torch.randn(3 * a.hidden, a.hidden) * 0.02) for _ in range(a.layers)])
        s.o = torch.nn.ParameterList([torch.nn.Parameter(torch.randn(a.hidden, a.hidden) * 0.02) for _ in range(a.layers)])
        s.gate_up = torch.nn.ParameterList([torch.nn.Parameter(torch.randn(2 * a.ffn, a.hidden) * 0.02) for _ in range(a.layers)])
        s.down = torch.nn.ParameterList([torch.nn.Parameter(torch.randn(a.hidden, a.ffn) * 0.02) for _ in range(a.layers)])
        s.n1 = torch.nn.ParameterList([torch.nn.Parameter(torch.ones(a.hidden)) for _ in range(a.layers)])
        s.n2 = torch.nn.ParameterList([torch.nn.Parameter(torch.ones(a.hidden)) for _ in range(a.layers)])
        s.norm = torch.nn.Parameter(torch.ones(a.hidden))
        s.head = torch.nn.Parameter(torch.randn(a.vocab, a.hidden) * 0.02)
        inv = 1.0 / (10000.0 ** (torch.arange(0, d, 2, dtype=torch.float64) / d))
        f = torch.outer(torch.arange(a.seq, dtype=torch.float64), inv)
        emb = torch.cat([f, f], -1)
        s.register_buffer("cos", emb.cos().float()[:, None, :], persistent=False)
        s.register_buffer("sin", emb.sin().float()[:, None, :], persistent=False)

    @staticmethod
    def rms(x, w, scale):
        xf = x.float()
        y = xf * torch.rsqrt(xf.square().mean(-1, keepdim=True) + 1e-6)
        return y.to(x.dtype) * (w * scale)

    def rope(s, x):  # [B, T, h, D]
        h = x.shape[-1] // 2
        rot = torch.cat([-x[..., h:], x[..., :h]], -1)
        return x * s.cos.to(x.dtype) + rot * s.sin.to(x.dtype)

    def forward(s, tokens):
        a = s.a
        b, t = tokens.shape
        nh, d = a.heads, a.hidden // a.heads
        x = F.embedding(tokens, s.embed)
        for l in range(a.layers):
            scale = 1.0 / math.sqrt(l + 1)
            qkv = F.linear(s.rms(x, s.n1[l], scale), s.qkv[l]).view(b, t, 3 * nh, d)
            qk, v = qkv.split([2 * nh, nh], 2)
            q, k = s.rope(qk).split([nh, nh], 2)
            o = attention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2))
            x = x + F.linear(o.transpose(1, 2).reshape(b, t, a.hidden), s.o[l])
            g, u = F.linear(s.rms(x, s.n2[l], scale), s.gate_up[l]).split([a.ffn, a.ffn], -1)
            x = x + F.linear(F.silu(g) * u, s.down[l])
        return F.linear(s.rms(x, s.norm, 1.0), s.head)


def attention(q, k, v):
    """Causal attention: PyTorch's fused kernel where it has one (2.0 and newer), else the same computation written out."""
    if hasattr(F, "scaled_dot_product_attention"):
        return F.scaled_dot_product_attention(q, k, v, is_causal=True)
    t = q.shape[-2]
    s = (q @ k.transpose(-2, -1)) / math.sqrt(q.shape[-1])
    s = s.masked_fill(~torch.ones(t, t, dtype=torch.bool, device=q.device).tril(), float("-inf"))
    return s.float().softmax(-1).to(v.dtype) @ v


def main():
    p = argparse.ArgumentParser()
    for k, v in dict(layers=12, hidden=256, heads=8, ffn=704, vocab=8192, batch=8, seq=256, warmup=3, reps=5, steps=5).items():
        p.add_argument("--" + k, type=int, default=v)
    p.add_argument("--device", default="cuda")
    p.add_argument("--dtype", default="bf16", help="bf16: autocast mixed precision (fp32 weights and Adam state), as lnsrun's bf16; bf16-pure: the model cast to bf16; fp32")
    p.add_argument("--json")
    p.add_argument("--compile", action="store_true", help="torch.compile the model (PyTorch 2.0 and newer)")
    a = p.parse_args()
    dev = torch.device(a.device)
    dtype = torch.bfloat16 if a.dtype == "bf16-pure" else torch.float32
    mixed = a.dtype == "bf16"
    torch.manual_seed(0)
    m = Model(a).to(dev).to(dtype)
    run = torch.compile(m) if a.compile else m
    # Mixed precision as the field trains: fp32 master weights, matmuls in bf16 under autocast.
    autocast = (lambda: torch.autocast(dev.type, dtype=torch.bfloat16)) if mixed else (lambda: contextlib.nullcontext())
    opt = torch.optim.Adam(m.parameters(), lr=1e-4)
    tok = torch.randint(0, a.vocab, (a.batch, a.seq + 1), device=dev)
    x, y = tok[:, :-1].contiguous(), tok[:, 1:].contiguous()
    sync = (lambda: torch.cuda.synchronize()) if dev.type == "cuda" else (lambda: None)

    def train():
        opt.zero_grad()
        with autocast():
            logits = run(x)
        F.cross_entropy(logits.float().view(-1, a.vocab), y.view(-1)).backward()
        opt.step()

    def fwd():
        with torch.no_grad(), autocast():
            run(x)

    for _ in range(a.warmup):
        train(); fwd()
    res = {}
    for name, f in (("train", train), ("forward", fwd)):
        rates = []
        for _ in range(a.reps):
            sync(); t0 = time.perf_counter()
            for _ in range(a.steps):
                f()
            sync(); rates.append(a.batch * a.seq * a.steps / (time.perf_counter() - t0))
        res[name + "_tokens_per_second"] = dict(median=statistics.median(rates), min=min(rates), max=max(rates))
    n = sum(p.numel() for p in m.parameters()) - a.vocab * a.hidden
    res["train_flops_per_token"] = 6 * n + 12 * a.layers * a.seq * a.hidden
    res["torch"] = torch.__version__
    res["config"] = vars(a)
    if dev.type == "cuda":
        res["peak_allocated_mb"] = torch.cuda.max_memory_allocated() / 1e6
    print(json.dumps(res, indent=1))
    if a.json:
        open(a.json, "w").write(json.dumps(res, indent=1))


if __name__ == "__main__":
    main()
