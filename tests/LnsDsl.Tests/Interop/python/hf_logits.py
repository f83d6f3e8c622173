"""Logits of a Hugging Face checkpoint directory, computed with PyTorch from the Hugging Face modelling formulas.

An independent reading for the cross-check: it knows nothing of LnsDsl. It reads config.json and the safetensors
files itself (the `safetensors` and `transformers` packages may be absent) and implements the LLaMA, Mistral, Qwen2,
Qwen3, Gemma-2 and OLMo-2 forward passes in float64.

usage: hf_logits.py CHECKPOINT_DIR TOKENS_JSON OUT_JSON     (TOKENS_JSON: [[ids...], ...]; OUT_JSON gets the logits)
"""
import json
import math
import os
import struct
import sys

import torch

DTYPES = {"F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16, "F64": torch.float64,
          "I64": torch.int64, "I32": torch.int32, "U8": torch.uint8, "BOOL": torch.bool}


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
        t = torch.frombuffer(raw, dtype=DTYPES[e["dtype"]]) if raw else torch.empty(0, dtype=DTYPES[e["dtype"]])
        out[name] = t.reshape(e["shape"]).clone()
    return out


def read_checkpoint(directory):
    single = os.path.join(directory, "model.safetensors")
    if os.path.exists(single):
        return read_safetensors(single)
    with open(os.path.join(directory, "model.safetensors.index.json")) as f:
        index = json.load(f)
    weights = {}
    for shard in sorted(set(index["weight_map"].values())):
        weights.update(read_safetensors(os.path.join(directory, shard)))
    return weights


def inv_freq(c, d):
    theta = c.get("rope_theta", 10000.0)
    inv = 1.0 / theta ** (torch.arange(0, d, 2, dtype=torch.float64) / d)
    s = c.get("rope_scaling")
    if not s:
        return inv
    kind = s.get("rope_type", s.get("type"))
    if kind == "linear":
        return inv / s["factor"]
    if kind == "llama3":
        factor, low, high, old = s["factor"], s["low_freq_factor"], s["high_freq_factor"], s["original_max_position_embeddings"]
        wavelen = 2 * math.pi / inv
        smooth = (old / wavelen - low) / (high - low)
        scaled = torch.where(wavelen > old / low, inv / factor, inv)
        mid = (wavelen <= old / low) & (wavelen >= old / high)
        return torch.where(mid, (1 - smooth) * inv / factor + smooth * inv, scaled)
    raise ValueError("rope_scaling " + str(kind))


def rotate_half(x):
    h = x.shape[-1] // 2
    return torch.cat((-x[..., h:], x[..., :h]), dim=-1)


def forward(c, w, tokens):
    fam = c["model_type"]
    w = {k: v.to(torch.float64) for k, v in w.items()}
    hidden, heads = c["hidden_size"], c["num_attention_heads"]
    kv = c.get("num_key_value_heads") or heads
    hd = c.get("head_dim") or hidden // heads
    eps = c.get("rms_norm_eps", 1e-6)
    act_name = c.get("hidden_act") or c.get("hidden_activation") or "silu"

    def rms(x, g):
        y = x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps)
        return y * (1 + g) if fam == "gemma2" else y * g

    def lin(x, p):
        y = x @ w[p + ".weight"].T
        return y + w[p + ".bias"] if p + ".bias" in w else y

    def act(x):
        if act_name == "silu":
            return torch.nn.functional.silu(x)
        if act_name == "gelu":
            return torch.nn.functional.gelu(x)
        return torch.nn.functional.gelu(x, approximate="tanh")

    B, T = tokens.shape
    x = w["model.embed_tokens.weight"][tokens]
    if fam == "gemma2":
        x = x * math.sqrt(hidden)
    freqs = torch.outer(torch.arange(T, dtype=torch.float64), inv_freq(c, hd))
    emb = torch.cat((freqs, freqs), -1)
    cos, sin = emb.cos(), emb.sin()
    scale = (c.get("query_pre_attn_scalar") or hd) ** -0.5 if fam == "gemma2" else hd ** -0.5
    mask = torch.ones(T, T, dtype=torch.bool).tril()
    for i in range(c["num_hidden_layers"]):
        p = "model.layers.%d." % i

        def attention(h):
            q, k, v = lin(h, p + "self_attn.q_proj"), lin(h, p + "self_attn.k_proj"), lin(h, p + "self_attn.v_proj")
            if fam == "olmo2":
                q, k = rms(q, w[p + "self_attn.q_norm.weight"]), rms(k, w[p + "self_attn.k_norm.weight"])
            q = q.view(B, T, heads, hd).transpose(1, 2)
            k = k.view(B, T, kv, hd).transpose(1, 2)
            v = v.view(B, T, kv, hd).transpose(1, 2)
            if fam == "qwen3":
                q, k = rms(q, w[p + "self_attn.q_norm.weight"]), rms(k, w[p + "self_attn.k_norm.weight"])
            q = q * cos + rotate_half(q) * sin
            k = k * cos + rotate_half(k) * sin
            k = k.repeat_interleave(heads // kv, 1)
            v = v.repeat_interleave(heads // kv, 1)
            s = q @ k.transpose(-2, -1) * scale
            cap = c.get("attn_logit_softcapping") if fam == "gemma2" else None
            if cap:
                s = torch.tanh(s / cap) * cap
            s = s.masked_fill(~mask, float("-inf"))
            o = (s.softmax(-1) @ v).transpose(1, 2).reshape(B, T, heads * hd)
            return lin(o, p + "self_attn.o_proj")

        def mlp(h):
            return lin(act(lin(h, p + "mlp.gate_proj")) * lin(h, p + "mlp.up_proj"), p + "mlp.down_proj")

        if fam == "gemma2":
            x = x + rms(attention(rms(x, w[p + "input_layernorm.weight"])), w[p + "post_attention_layernorm.weight"])
            x = x + rms(mlp(rms(x, w[p + "pre_feedforward_layernorm.weight"])), w[p + "post_feedforward_layernorm.weight"])
        elif fam == "olmo2":
            x = x + rms(attention(x), w[p + "post_attention_layernorm.weight"])
            x = x + rms(mlp(x), w[p + "post_feedforward_layernorm.weight"])
        else:
            x = x + attention(rms(x, w[p + "input_layernorm.weight"]))
            x = x + mlp(rms(x, w[p + "post_attention_layernorm.weight"]))
    x = rms(x, w["model.norm.weight"])
    head = w["model.embed_tokens.weight"] if c.get("tie_word_embeddings") or "lm_head.weight" not in w else w["lm_head.weight"]
    logits = x @ head.T
    cap = c.get("final_logit_softcapping") if fam == "gemma2" else None
    if cap:
        logits = torch.tanh(logits / cap) * cap
    return logits


def main():
    directory, tokens_json, out_json = sys.argv[1:4]
    with open(os.path.join(directory, "config.json")) as f:
        config = json.load(f)
    with open(tokens_json) as f:
        tokens = torch.tensor(json.load(f), dtype=torch.int64)
    with torch.no_grad():
        logits = forward(config, read_checkpoint(directory), tokens)
    with open(out_json, "w") as f:
        json.dump({"torch": torch.__version__, "logits": logits.reshape(-1).tolist(), "shape": list(logits.shape)}, f)


if __name__ == "__main__":
    main()
