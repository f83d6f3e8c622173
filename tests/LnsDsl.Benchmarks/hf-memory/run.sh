#!/usr/bin/env bash
# Peak resident memory of `lnsrun analyze --hf` on a synthetic ~1.2B-parameter bf16 Llama checkpoint (24 x 2048),
# against the checkpoint's file size. Figures, not a test. Needs /usr/bin/python3 with torch (Debian: python3-torch)
# and GNU time (/usr/bin/time). Usage: tests/LnsDsl.Benchmarks/hf-memory/run.sh [WORK_DIR=/tmp/lnsdsl-hf-memory] [LAYERS HIDDEN ...]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
work="${1:-/tmp/lnsdsl-hf-memory}"; shift || true
ckpt="$work/synthetic-1b"
[ -f "$ckpt/model.safetensors" ] || /usr/bin/python3 "$here/make_checkpoint.py" "$ckpt" "$@"
dotnet build "$root/src/LnsDsl.Cli" -c Release -v q -nologo >/dev/null
text="$work/text.txt"
[ -f "$text" ] || python3 -c "import random; random.seed(1); w='the deep layers of a transformer should not collapse into identity maps'.split(); print(' '.join(random.choice(w) for _ in range(4000)))" > "$text"
size=$(stat -c %s "$ckpt/model.safetensors")
/usr/bin/time -v dotnet "$root/src/LnsDsl.Cli/bin/Release/net10.0/lnsrun.dll" analyze --hf "$ckpt" --tokenizer bytes --data "$text" \
  --seq 64 --batches 1 --batch 1 --skip-gradients --out "$work/analysis" 2> "$work/time.txt" | tail -n 30
peak_kb=$(grep "Maximum resident set size" "$work/time.txt" | grep -Eo '[0-9]+')
echo "checkpoint: $((size / 1000000)) MB; analyze peak resident memory: $((peak_kb * 1024 / 1000000)) MB; ratio $(python3 -c "print(round($peak_kb * 1024 / $size, 3))")"
grep "Elapsed (wall clock)" "$work/time.txt"
