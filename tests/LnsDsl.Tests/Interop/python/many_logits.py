"""Logits of many export directories' model.py on the same tokens, in one process (the random-declarations check).

usage: many_logits.py DIRS_TXT TOKENS_JSON OUT_DIR
  DIRS_TXT: one export directory a line; writes OUT_DIR/<i>.json ({"logits": flat, "shape": [...]}) for line i.
"""
import importlib.util
import json
import os
import sys

import torch

with open(sys.argv[1]) as f:
    directories = [line.strip() for line in f if line.strip()]
with open(sys.argv[2]) as f:
    tokens = torch.tensor(json.load(f), dtype=torch.int64)
for i, directory in enumerate(directories):
    spec = importlib.util.spec_from_file_location("model_%d" % i, os.path.join(directory, "model.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    with torch.no_grad():
        logits = module.load(directory)(tokens).double()
    with open(os.path.join(sys.argv[3], "%d.json" % i), "w") as f:
        json.dump({"logits": logits.reshape(-1).tolist(), "shape": list(logits.shape)}, f)
print("done %d" % len(directories))
