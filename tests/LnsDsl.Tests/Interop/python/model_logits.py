"""Logits of an export directory's model.py on given tokens (PyTorchTrainTests checks the model before training).

usage: model_logits.py EXPORT_DIR TOKENS_JSON OUT_JSON
"""
import json
import sys

import torch

sys.path.insert(0, sys.argv[1])
import model  # noqa: E402

with open(sys.argv[2]) as f:
    tokens = torch.tensor(json.load(f), dtype=torch.int64)
with torch.no_grad():
    logits = model.load(sys.argv[1])(tokens).double()
with open(sys.argv[3], "w") as f:
    json.dump({"logits": logits.reshape(-1).tolist(), "shape": list(logits.shape)}, f)
