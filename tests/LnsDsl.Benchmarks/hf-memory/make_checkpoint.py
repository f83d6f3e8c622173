"""Writes a synthetic Llama-layout Hugging Face checkpoint in bf16 (config.json + model.safetensors), tensor by tensor,
for the memory benchmark of `lnsrun analyze --hf`: its peak resident memory against the file's size.

usage: make_checkpoint.py OUT_DIR [LAYERS=24] [HIDDEN=2048] [INTERMEDIATE=5632] [HEADS=16] [KV_HEADS=4] [VOCAB=32000]
"""
import json
import os
import struct
import sys

import torch

out = sys.argv[1]
layers, hidden, inter, heads, kv, vocab = ([int(a) for a in sys.argv[2:8]] + [24, 2048, 5632, 16, 4, 32000][len(sys.argv[2:8]):])
hd = hidden // heads
shapes = [("model.embed_tokens.weight", [vocab, hidden])]
for i in range(layers):
    p = "model.layers.%d." % i
    shapes += [(p + "input_layernorm.weight", [hidden]), (p + "self_attn.q_proj.weight", [heads * hd, hidden]),
               (p + "self_attn.k_proj.weight", [kv * hd, hidden]), (p + "self_attn.v_proj.weight", [kv * hd, hidden]),
               (p + "self_attn.o_proj.weight", [hidden, heads * hd]), (p + "post_attention_layernorm.weight", [hidden]),
               (p + "mlp.gate_proj.weight", [inter, hidden]), (p + "mlp.up_proj.weight", [inter, hidden]),
               (p + "mlp.down_proj.weight", [hidden, inter])]
shapes += [("model.norm.weight", [hidden]), ("lm_head.weight", [vocab, hidden])]

header, offset = {"__metadata__": {"format": "pt"}}, 0
for name, shape in shapes:
    n = 2
    for s in shape:
        n *= s
    header[name] = {"dtype": "BF16", "shape": shape, "data_offsets": [offset, offset + n]}
    offset += n
text = json.dumps(header).encode()
text += b" " * ((8 - (8 + len(text)) % 8) % 8)
os.makedirs(out, exist_ok=True)
torch.manual_seed(0)
with open(os.path.join(out, "model.safetensors"), "wb") as f:
    f.write(struct.pack("<Q", len(text)))
    f.write(text)
    for name, shape in shapes:
        t = torch.ones(shape) if name.endswith("norm.weight") else torch.randn(shape) * 0.02
        f.write(t.to(torch.bfloat16).view(torch.int16).numpy().tobytes())
config = {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "vocab_size": vocab, "hidden_size": hidden,
          "intermediate_size": inter, "num_hidden_layers": layers, "num_attention_heads": heads, "num_key_value_heads": kv,
          "max_position_embeddings": 2048, "rms_norm_eps": 1e-5, "rope_theta": 10000.0, "hidden_act": "silu",
          "tie_word_embeddings": False, "torch_dtype": "bfloat16"}
with open(os.path.join(out, "config.json"), "w") as f:
    json.dump(config, f, indent=2)
params = sum(eval("*".join(map(str, s))) for _, s in shapes)
print("%s: %d parameters, %.2f GB" % (out, params, (8 + len(text) + offset) / 1e9))
