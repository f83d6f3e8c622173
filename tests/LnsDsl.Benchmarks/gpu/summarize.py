"""Summary of tests/LnsDsl.Benchmarks/gpu/run.sh: summary.json and summary.md in the output directory.

usage: summarize.py OUT_DIR [gpu|dry-run]
Ratios compare lnsrun with PyTorch measured in the same run on the same device (tokens/s medians, peak GPU memory).
The loss check compares lnsrun's and train.py's pure-bf16 losses step by step (bf16 tolerance: 2e-2 relative).
"""
import json
import os
import subprocess
import sys

out, mode = sys.argv[1], (sys.argv[2] if len(sys.argv) > 2 else "gpu")


def load(name):
    path = os.path.join(out, name + ".json")
    return json.load(open(path)) if os.path.isfile(path) else None


def peak(name):
    path = os.path.join(out, name + ".peak_mb")
    text = open(path).read().strip() if os.path.isfile(path) else "n/a"
    try:
        return float(text)
    except ValueError:
        return None


def median(result, key):
    return result[key]["median"] if result and key in result else None


def losses(path):
    if not os.path.isfile(path):
        return []
    return [json.loads(line)["loss"] for line in open(path) if line.strip()]


def device():
    try:
        return subprocess.run(["nvidia-smi", "--query-gpu=name,driver_version", "--format=csv,noheader"], capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "no GPU (dry run on the CPU)" if mode == "dry-run" else "unknown"


rows = []
for shape, dtype in (("big", "bf16"), ("big", "bf16-pure"), ("small", "bf16")):
    ours, theirs = load("lnsrun-%s-%s" % (shape, dtype)), load("torch-%s-%s" % (shape, dtype))
    compiled = load("torch-%s-%s-compile" % (shape, dtype))
    a, b = median(ours, "train_tokens_per_second"), median(theirs, "train_tokens_per_second")
    c = median(compiled, "train_tokens_per_second")
    pa, pb = peak("lnsrun-%s-%s" % (shape, dtype)), peak("torch-%s-%s" % (shape, dtype))
    rows.append({
        "model": ours["model"] if ours else shape, "dtype": dtype, "batch": ours["batch"] if ours else None,
        "lnsrun_train_tokens_per_second": a, "torch_eager_train_tokens_per_second": b, "torch_compile_train_tokens_per_second": c,
        "ratio_vs_eager": a / b if a and b else None, "ratio_vs_compile": a / c if a and c else None,
        "lnsrun_peak_mb": pa, "torch_peak_mb": pb, "memory_ratio": pa / pb if pa and pb else None,
        "lnsrun_mfu": ours.get("mfu") if ours else None,
    })

ours_losses = losses(os.path.join(out, "lnsrun-run", "metrics.jsonl"))
torch_losses = losses(os.path.join(out, "torch-run", "metrics.jsonl"))
pairs = list(zip(ours_losses, torch_losses))
worst = max((abs(x - y) / abs(x) for x, y in pairs), default=None)
summary = {
    "mode": mode, "device": device(),
    "torch": (load("torch-big-bf16") or {}).get("torch"),
    "throughput": rows,
    "loss_check": {"steps": len(pairs), "lnsrun": ours_losses, "train_py": torch_losses, "largest_relative_difference": worst,
                   "tolerance": 2e-2, "agree": worst is not None and worst < 2e-2 and len(pairs) == len(ours_losses) > 0},
}
json.dump(summary, open(os.path.join(out, "summary.json"), "w"), indent=1)


def f(v, fmt="{:,.0f}"):
    return "-" if v is None else fmt.format(v)


lines = ["# lnsrun against PyTorch (%s: %s, PyTorch %s)" % (mode, summary["device"], summary["torch"]), "",
         "| model | dtype | batch | lnsrun tok/s | PyTorch eager tok/s | compile tok/s | vs eager | vs compile | lnsrun peak MB | PyTorch peak MB | memory ratio |",
         "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
for r in rows:
    lines.append("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
        r["model"], r["dtype"], r["batch"], f(r["lnsrun_train_tokens_per_second"]), f(r["torch_eager_train_tokens_per_second"]),
        f(r["torch_compile_train_tokens_per_second"]), f(r["ratio_vs_eager"], "{:.2f}x"), f(r["ratio_vs_compile"], "{:.2f}x"),
        f(r["lnsrun_peak_mb"]), f(r["torch_peak_mb"]), f(r["memory_ratio"], "{:.2f}x")))
check = summary["loss_check"]
lines += ["", "Loss check, %d steps, pure bf16, lnsrun vs the exported train.py: largest relative difference %s (tolerance 2e-2): %s." % (
    check["steps"], f(check["largest_relative_difference"], "{:.2e}"), "agree" if check["agree"] else "DO NOT AGREE")]
open(os.path.join(out, "summary.md"), "w").write("\n".join(lines) + "\n")
print("\n".join(lines))
