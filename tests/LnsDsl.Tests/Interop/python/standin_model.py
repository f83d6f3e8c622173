"""A stand-in for the generated model.py (tests only), with its contract: load(directory) -> torch.nn.Module whose
call on int64 tokens [B, T] gives logits [B, T, Vocab], state_dict keys LnsDsl's parameter names;
read_safetensors(path) -> dict; write_safetensors(path, tensors, metadata=None).

It knows the model through standin.json, written by the test: the Hugging Face (Llama) config of the model, the
mapping of each LnsDsl parameter to Hugging Face tensors (rows), and LNS's factor on each scaled norm. The forward
pass is the Llama formula of hf_logits.py in the parameters' dtype, with the factor applied to the norm's output.
"""
import json
import os
import struct

import torch

DTYPES = {"F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16, "F64": torch.float64, "I64": torch.int64}
NAMES = {v: k for k, v in DTYPES.items()}


def read_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    out = {}
    for name, e in header.items():
        if name == "__metadata__":
            continue
        b, end = e["data_offsets"]
        raw = bytearray(data[8 + n + b: 8 + n + end])
        out[name] = torch.frombuffer(raw, dtype=DTYPES[e["dtype"]]).reshape(e["shape"]).clone()
    return out


def write_safetensors(path, tensors, metadata=None):
    header, blobs, offset = {}, [], 0
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    for name in sorted(tensors):
        t = tensors[name].detach().cpu().contiguous()
        raw = t.view(torch.uint8).numpy().tobytes() if t.numel() else b""
        header[name] = {"dtype": NAMES[t.dtype], "shape": list(t.shape), "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text)
        for raw in blobs:
            f.write(raw)


class StandIn(torch.nn.Module):
    def __init__(self, description, weights):
        super().__init__()
        self.c = description["hf"]
        self.map = description["map"]
        self.scales = description["scales"]
        for name, value in weights.items():  # nested containers, so that state_dict keys are the LnsDsl names
            owner = self
            parts = name.split(".")
            for part in parts[:-1]:
                if part not in owner._modules:
                    owner.add_module(part, torch.nn.Module())
                owner = owner._modules[part]
            owner.register_parameter(parts[-1], torch.nn.Parameter(value))

    def forward(self, tokens):
        c = self.c
        params = dict(self.named_parameters())
        w = {}
        for m in self.map:
            source, row = params[m["param"]], 0
            for name, rows in m["sources"]:
                w[name] = source if rows < 0 else source.narrow(0, row, rows)
                row += max(rows, 0)
        hidden, heads = c["hidden_size"], c["num_attention_heads"]
        kv = c.get("num_key_value_heads") or heads
        hd = c.get("head_dim") or hidden // heads
        eps = c.get("rms_norm_eps", 1e-6)
        dtype = w["model.embed_tokens.weight"].dtype

        def rms(x, name):
            y = x * torch.rsqrt(x.float().pow(2).mean(-1, keepdim=True) + eps).to(x.dtype)
            y = y * w[name]
            return y * self.scales[name] if name in self.scales else y

        def lin(x, p):
            y = x @ w[p + ".weight"].T
            return y + w[p + ".bias"] if p + ".bias" in w else y

        act_name = c.get("hidden_act") or "silu"

        def act(t):
            if act_name == "silu":
                return torch.nn.functional.silu(t)
            return torch.nn.functional.gelu(t, approximate="none" if act_name == "gelu" else "tanh")

        B, T = tokens.shape
        x = w["model.embed_tokens.weight"][tokens]
        inv = 1.0 / c.get("rope_theta", 10000.0) ** (torch.arange(0, hd, 2, dtype=torch.float64) / hd)
        freqs = torch.outer(torch.arange(T, dtype=torch.float64), inv)
        emb = torch.cat((freqs, freqs), -1)
        cos, sin = emb.cos().to(dtype).to(x.device), emb.sin().to(dtype).to(x.device)
        mask = torch.ones(T, T, dtype=torch.bool, device=x.device).tril()

        def rotate_half(t):
            h = t.shape[-1] // 2
            return torch.cat((-t[..., h:], t[..., :h]), dim=-1)

        for i in range(c["num_hidden_layers"]):
            p = "model.layers.%d." % i
            h = rms(x, p + "input_layernorm.weight")
            q = lin(h, p + "self_attn.q_proj").view(B, T, heads, hd).transpose(1, 2)
            k = lin(h, p + "self_attn.k_proj").view(B, T, kv, hd).transpose(1, 2)
            v = lin(h, p + "self_attn.v_proj").view(B, T, kv, hd).transpose(1, 2)
            q = q * cos + rotate_half(q) * sin
            k = k * cos + rotate_half(k) * sin
            k = k.repeat_interleave(heads // kv, 1)
            v = v.repeat_interleave(heads // kv, 1)
            s = (q @ k.transpose(-2, -1)) * hd ** -0.5
            s = s.masked_fill(~mask, float("-inf"))
            o = (s.softmax(-1) @ v).transpose(1, 2).reshape(B, T, heads * hd)
            x = x + lin(o, p + "self_attn.o_proj")
            h = rms(x, p + "post_attention_layernorm.weight")
            x = x + lin(act(lin(h, p + "mlp.gate_proj")) * lin(h, p + "mlp.up_proj"), p + "mlp.down_proj")
        x = rms(x, "model.norm.weight")
        head = w.get("lm_head.weight", w["model.embed_tokens.weight"])
        return x @ head.T


def load(directory):
    with open(os.path.join(directory, "standin.json")) as f:
        description = json.load(f)
    return StandIn(description, read_safetensors(os.path.join(directory, "model.safetensors")))
