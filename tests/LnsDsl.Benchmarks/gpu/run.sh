#!/usr/bin/env bash
# One prepared GPU measurement, to run as a single short job on a lent GPU machine (about 8 minutes on an H100):
#   1. lnsrun bench Lns130M (batch 32) in mixed bf16 and in pure bf16, lnsrun bench Lns12x256 (batch 128) in mixed bf16;
#   2. the same shapes in PyTorch (tests/LnsDsl.Benchmarks/pytorch/reference_model.py): eager with autocast, and
#      torch.compile where the machine's PyTorch has it;
#   3. peak GPU memory of each (nvidia-smi sampled every 100 ms: TorchSharp has no CUDA memory statistics);
#   4. 50 steps of `lnsrun train Lns130M` against the same 50 steps of the exported train.py on the same GPU, both in
#      pure bf16 from the same initialisation and batches: the loss curves must agree to bf16 tolerance;
#   5. summary.json and summary.md (summarize.py) under $OUT.
# Figures, not a test. Usage:
#   OUT=/path tests/LnsDsl.Benchmarks/gpu/run.sh             on the GPU machine (LNSRUN, PYTHON override the commands)
#   OUT=/path tests/LnsDsl.Benchmarks/gpu/run.sh --dry-run   on a CPU with tiny sizes: checks every step runs
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
out="${OUT:-/tmp/lnsdsl-gpu}"
mkdir -p "$out"
dry=0
[ "${1:-}" = "--dry-run" ] && dry=1
python="${PYTHON:-python3}"
if [ -z "${LNSRUN:-}" ]; then
  dotnet build "$root/src/LnsDsl.Cli" -c Release -v q -nologo >/dev/null
  LNSRUN="dotnet $root/src/LnsDsl.Cli/bin/Release/net10.0/lnsrun.dll"
fi
export LNSDSL_CACHE="$out/cache"

if [ "$dry" = 1 ]; then
  device=cpu; big=Lns6x128; small=Lns6x128; big_batch=2; small_batch=2; seq=32; reps=1; steps=1; train_steps=8; train_batch=2
  ref_big="--layers 6 --hidden 128 --heads 4 --ffn 384 --vocab 8192"; ref_small="$ref_big"
else
  device=cuda; big=Lns130M; small=Lns12x256; big_batch=32; small_batch=128; seq=256; reps=5; steps=5; train_steps=50; train_batch=32
  ref_big="--layers 12 --hidden 768 --heads 12 --ffn 2048 --vocab 32000"; ref_small="--layers 12 --hidden 256 --heads 8 --ffn 704 --vocab 8192"
fi

# peak_mb NAME COMMAND...: runs COMMAND, samples the GPU's used memory meanwhile, writes $out/NAME.peak_mb ("n/a" without nvidia-smi).
peak_mb() {
  local name=$1; shift
  local samples="$out/$name.memory"
  : > "$samples"
  local sampler=""
  if command -v nvidia-smi >/dev/null 2>&1; then
    (while true; do nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits >> "$samples" 2>/dev/null || true; sleep 0.1; done) &
    sampler=$!
  fi
  local base=0
  command -v nvidia-smi >/dev/null 2>&1 && base=$(nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits | head -1)
  set +e
  "$@" > "$out/$name.log" 2>&1
  local status=$?
  set -e
  [ -n "$sampler" ] && kill "$sampler" 2>/dev/null && wait "$sampler" 2>/dev/null || true
  if [ -s "$samples" ]; then
    sort -n "$samples" | tail -1 | awk -v b="$base" '{print $1 - b}' > "$out/$name.peak_mb"
  else
    echo "n/a" > "$out/$name.peak_mb"
  fi
  echo "$name: exit $status, peak GPU memory $(cat "$out/$name.peak_mb") MB"
  return $status
}

# 1. lnsrun's benchmarks (no unfused baseline: its time goes to the comparison with PyTorch).
peak_mb lnsrun-big-bf16 $LNSRUN bench $big --batch $big_batch --seq $seq --dtype bf16 --device $device --no-unfused \
  --repetitions $reps --steps $steps --warmup 2 --json "$out/lnsrun-big-bf16.json"
peak_mb lnsrun-big-bf16-pure $LNSRUN bench $big --batch $big_batch --seq $seq --dtype bf16-pure --device $device --no-unfused \
  --repetitions $reps --steps $steps --warmup 2 --json "$out/lnsrun-big-bf16-pure.json"
peak_mb lnsrun-small-bf16 $LNSRUN bench $small --batch $small_batch --seq $seq --dtype bf16 --device $device --no-unfused \
  --repetitions $reps --steps $steps --warmup 2 --json "$out/lnsrun-small-bf16.json"

# 2. PyTorch on the same shapes: eager with autocast, pure bf16, and torch.compile where it exists.
ref="$root/tests/LnsDsl.Benchmarks/pytorch/reference_model.py"
common="--seq $seq --reps $reps --steps $steps --warmup 2 --device $device"
peak_mb torch-big-bf16 $python "$ref" $ref_big --batch $big_batch $common --dtype bf16 --json "$out/torch-big-bf16.json"
peak_mb torch-big-bf16-pure $python "$ref" $ref_big --batch $big_batch $common --dtype bf16-pure --json "$out/torch-big-bf16-pure.json"
peak_mb torch-small-bf16 $python "$ref" $ref_small --batch $small_batch $common --dtype bf16 --json "$out/torch-small-bf16.json"
if $python -c "import torch, sys; sys.exit(0 if hasattr(torch, 'compile') else 1)" 2>/dev/null && [ "$dry" = 0 ]; then
  peak_mb torch-big-bf16-compile $python "$ref" $ref_big --batch $big_batch $common --dtype bf16 --compile --json "$out/torch-big-bf16-compile.json" || true
  peak_mb torch-small-bf16-compile $python "$ref" $ref_small --batch $small_batch $common --dtype bf16 --compile --json "$out/torch-small-bf16-compile.json" || true
fi

# 4. The same 50 steps in lnsrun and in the exported train.py (pure bf16 on both sides; no npm on the GPU machine,
#    so the text is generated here and read with the byte tokenizer).
text="$out/text.txt"
$python - "$text" <<'PY'
import random, sys
random.seed(1)
words = "the deep layers of a transformer should not collapse into identity maps when the norm is scaled by depth".split()
with open(sys.argv[1], "w") as f:
    for d in range(400):
        f.write(" ".join(random.choice(words) for _ in range(300)) + "\n")
PY
recipe=(--data "$text" --tokenizer bytes --compact 0 --steps $train_steps --batch $train_batch --seq $seq --warmup 5 --lr 1e-3 \
        --eval-every 0 --checkpoint-every $train_steps --seed 3 --device $device --dtype bf16-pure)
peak_mb lnsrun-train $LNSRUN train $big "${recipe[@]}" --out "$out/lnsrun-run"
rm -rf "$out/export"
$LNSRUN export $big "${recipe[@]}" --pytorch "$out/export" > "$out/export.log" 2>&1
peak_mb torch-train $python "$out/export/train.py" --out "$out/torch-run" --dtype bf16 --device $( [ "$device" = cuda ] && echo cuda || echo cpu )

# 5. The summary.
$python "$here/summarize.py" "$out" "$( [ "$dry" = 1 ] && echo dry-run || echo gpu )"
