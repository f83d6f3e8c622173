"""Continue an LnsDsl training run in PyTorch, on one process or under torchrun (DDP, or FSDP with --fsdp).

This script is fixed (not generated). It sits in an export directory OUT beside:

  model.py           generated for the model: load(directory) -> torch.nn.Module (int64 tokens [B, T] -> logits
                     [B, T, Vocab]), read_safetensors(path) -> dict, write_safetensors(path, tensors, metadata=None);
                     state_dict keys are LnsDsl's parameter names
  config.json        the model's ModelSpec as JSON (copied into every checkpoint)
  model.safetensors  the weights to start from
  options.json       the whole recipe, written by lnsrun from its own settings (this script has no defaults for
                     any of it: a missing field is an error naming it; the flags below only override):
                       {"Options": {...},      the run's TrainOptions as System.Text.Json writes them (PascalCase:
                                               Model, Packing ("Pack"/"Document" or 0/1), Steps, Batch, MicroBatch,
                                               Seq, Lr, Warmup, MinLrRatio, WeightDecay, Optimizer (adam, adamw,
                                               torch-adam), DecayEmbeddings, Clip, EvalEvery, EvalBatches,
                                               CheckpointEvery, KeepCheckpoints, Seed, Threads, Device, Dtype,
                                               FineTune, ...)
                        "Step": N,             the step the weights are at (0: an initialisation)
                        "Cache": "DIR",        the token cache holding train.lnstok and valid.lnstok (null for a
                                               fine-tuned run, whose data are instruction examples: give --cache)
                        "EndOfText": ID,       the tokenizer's end-of-text id (document packing pads with it)
                        "Adam": {"Beta1", "Beta2", "Eps"},   Adam's constants (lnsrun's FlatAdam)
                        "ClipEpsilon": E,      clipping scales gradients by min(1, Clip / (norm + E))
                        "DecayedParameters": [NAMES],        the parameters AdamW decays (lnsrun's rule: matrices,
                                               not norms and biases, the embedding only with DecayEmbeddings)
                        "ParameterScales": {NAME: {"Lr", "Eps"}}}   factors on the learning rate and on Adam's eps
                                               of those parameters (a depth rule's block groups: Depth-muP,
                                               CompleteP); absent in exports written before depth rules: none

usage:
  python train.py [flags]                                  one process
  torchrun --nproc_per_node N train.py [flags]             N processes (gloo on CPU, nccl on CUDA)
  (PyTorch 1.13's torchrun on Python 3.11 needs --redirects 1 --tee 1: it cannot parse their default "0")

flags (each overrides options.json): --steps --batch --micro-batch --lr --weight-decay --seed --cache --out
  --checkpoint-every --eval-every --dtype bf16|fp32 --optimizer adam|adamw --device auto|cpu|cuda --threads
  --stop-at N (stop with a checkpoint after step N, as lnsrun train --stop-at); and, train.py's own: --fsdp,
  --timeout SECONDS (how long a collective waits for the other workers, default 300)

The recipe is lnsrun's (src/LnsDsl.Training/Training/Trainer.cs): for step k = Step+1 .. Steps, the learning rate of
LearningRate.At (linear warmup, cosine decay to MinLrRatio x Lr) on every group; the batch drawn by Batches.ForStep
(SplitMix64 of (Seed, k) seeding .NET's System.Random, reimplemented here bit for bit) over Batch / MicroBatch
micro-batches, each loss the fp32 cross-entropy (padding -100 ignored) divided by the number of micro-batches; the
global gradient norm in fp32 and, with Clip > 0, the gradients scaled by min(1, Clip / (norm + ClipEpsilon)); then
Adam (Adam's betas and eps from options.json; WeightDecay as L2 decay of every parameter: torch.optim.Adam is
LibTorch's) or, with Optimizer adamw, AdamW (decoupled weight decay of DecayedParameters only).

The optimizer starts fresh: lnsrun's Adam state is not carried over, so the continuation is exact only from step 0
(an initialisation); from a later step the first updates differ from what lnsrun would have done.

Distributed: every rank draws the same global micro-batch with the same generator and keeps its contiguous share of
the rows (the micro-batch must divide by the world size). Each rank's loss is its summed token losses over the
global micro-batch's target count times the world size, so DDP's gradient average is exactly the single-process
gradient, with document packing's padding too. The loss printed is the global one.

Output (OUT_RUN, --out, default OUT/run): metrics.jsonl (lnsrun's step records: step, loss, lr, grad_norm, ...),
eval.jsonl, and checkpoints/step-NNNNNNN/ with model.safetensors (LnsDsl names; the full state dict under FSDP),
config.json and options.json (Step updated), written to a temporary directory then renamed, so a checkpoint
directory is always complete. If a worker dies the others stop at their next collective (or after --timeout
seconds) with "worker failed: ..." and a non-zero exit; the last checkpoint stays intact.
"""
import argparse
import datetime
import hashlib
import json
import math
import mmap
import os
import shutil
import signal
import struct
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

IGNORE = -100
INT32_MAX = 2147483647
MASK64 = (1 << 64) - 1


class UserError(Exception):
    """A problem the user can fix: printed without a traceback."""


# ---------------------------------------------------------------------------------------------------------------
# .NET's seeded System.Random (the legacy "Net5CompatSeedImpl": Knuth's subtractive generator as .NET adapted it)

class DotNetRandom:
    """`new System.Random(seed)`: Next(), Next(maxValue), NextDouble(), NextInt64(minValue, maxValue) as .NET gives them."""

    def __init__(self, seed):
        seed = int(seed)
        if not -2 ** 31 <= seed < 2 ** 31:
            raise ValueError("seed must be an int32")
        array = [0] * 56
        subtraction = INT32_MAX if seed == -2 ** 31 else abs(seed)
        mj = 161803398 - subtraction
        array[55] = mj
        mk = 1
        ii = 0
        for i in range(1, 55):
            ii += 21
            if ii >= 55:
                ii -= 55
            array[ii] = mk
            mk = mj - mk
            if mk < 0:
                mk += INT32_MAX
            mj = array[ii]
        for _ in range(1, 5):
            for i in range(1, 56):
                n = i + 30
                if n >= 55:
                    n -= 55
                v = array[i] - array[1 + n]
                # int32 wrap-around as C# (unchecked) does it
                v = (v + 2 ** 31) % 2 ** 32 - 2 ** 31
                if v < 0:
                    v += INT32_MAX
                array[i] = v
        self._array = array
        self._inext = 0
        self._inextp = 21

    def _internal_sample(self):
        inext = self._inext + 1
        if inext >= 56:
            inext = 1
        inextp = self._inextp + 1
        if inextp >= 56:
            inextp = 1
        a = self._array
        value = a[inext] - a[inextp]
        if value == INT32_MAX:
            value -= 1
        if value < 0:
            value += INT32_MAX
        a[inext] = value
        self._inext = inext
        self._inextp = inextp
        return value

    def _sample(self):
        return self._internal_sample() * (1.0 / INT32_MAX)

    def next(self, max_value=None):
        """Next() or Next(maxValue): (int)(Sample() * maxValue)."""
        if max_value is None:
            return self._internal_sample()
        if max_value < 0:
            raise ValueError("maxValue must be non-negative")
        return int(self._sample() * max_value)  # truncation toward zero, as the (int) cast

    def next_double(self):
        return self._sample()

    def _next_uint64(self):
        # 22 + 22 + 20 bits from Next(2^22), Next(2^22), Next(2^20), low bits first
        return self.next(1 << 22) | (self.next(1 << 22) << 22) | (self.next(1 << 20) << 44)

    def next_int64(self, min_value, max_value):
        """NextInt64(minValue, maxValue): rejection sampling of the top bits of a 64-bit draw."""
        if min_value > max_value:
            raise ValueError("minValue must not exceed maxValue")
        exclusive_range = (max_value - min_value) & MASK64
        if exclusive_range > 1:
            bits = (exclusive_range - 1).bit_length()  # BitOperations.Log2Ceiling
            while True:
                result = self._next_uint64() >> (64 - bits)
                if result < exclusive_range:
                    return result + min_value
        return min_value


def for_step(seed, step):
    """Batches.ForStep: SplitMix64 of (seed, step) -> an int32 seed -> new System.Random(seed)."""
    z = ((int(seed) & MASK64) * 0x9E3779B97F4A7C15 + int(step) + 0x4C4E53) & MASK64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
    z ^= z >> 31
    folded = (z & 0xFFFFFFFF) ^ (z >> 32)
    if folded >= 2 ** 31:
        folded -= 2 ** 32
    return DotNetRandom(folded)


# ---------------------------------------------------------------------------------------------------------------
# The token cache (src/LnsDsl.Training/Data/TokenStream.cs)

class TokenFile:
    """A verified, memory-mapped LNSTOK01 file: 64-byte header ("LNSTOK01", int32 bytes per token, int32 0, int64
    token count, int64 document count, SHA-256 of the payload), then the tokens, then D + 1 int64 document starts."""

    HEADER = 64

    def __init__(self, path):
        self.path = path
        if not os.path.isfile(path):
            raise UserError("token cache '%s' is missing; run 'lnsrun data prepare' (or lnsrun train once) to build it, or give --cache" % path)
        length = os.path.getsize(path)
        if length < self.HEADER:
            raise self._corrupt("shorter than its header")
        with open(path, "rb") as f:
            header = f.read(self.HEADER)
            if header[:8] != b"LNSTOK01":
                raise self._corrupt("not an LnsDsl token file")
            bytes_per_token, _, count, documents = struct.unpack("<iiqq", header[8:32])
            if bytes_per_token not in (2, 4) or count < 0 or documents < 0 or \
                    length != self.HEADER + count * bytes_per_token + (documents + 1) * 8:
                raise self._corrupt("its size does not match its header (truncated?)")
            sha = hashlib.sha256()
            while True:
                block = f.read(1 << 22)
                if not block:
                    break
                sha.update(block)
            if sha.digest() != header[32:64]:
                raise self._corrupt("checksum mismatch")
        self.count = count
        self.documents = documents
        dtype = np.dtype("<u2") if bytes_per_token == 2 else np.dtype("<u4")
        self.tokens = np.memmap(path, dtype=dtype, mode="r", offset=self.HEADER, shape=(count,))
        self.starts = np.array(np.memmap(path, dtype=np.dtype("<i8"), mode="r",
                                         offset=self.HEADER + count * bytes_per_token, shape=(documents + 1,)))

    def _corrupt(self, why):
        return UserError("token cache '%s' is corrupt (%s); delete it (or its directory) and lnsrun rebuilds it from the text" % (self.path, why))

    def read(self, start, n):
        if start < 0 or start + n > self.count:
            raise IndexError("tokens [%d, %d) outside [0, %d)" % (start, start + n, self.count))
        return self.tokens[start:start + n].astype(np.int64)

    def document(self, index):
        """Start and length of a document, its end-of-text excluded."""
        start = int(self.starts[index])
        return start, int(self.starts[index + 1]) - start - 1


def sample(stream, packing, batch, seq, end_of_text, random):
    """Batches.Sample: random windows (pack) or random documents (document); inputs and targets [batch, seq] int64."""
    x = np.empty((batch, seq), dtype=np.int64)
    y = np.empty((batch, seq), dtype=np.int64)
    for b in range(batch):
        if packing == "Pack":
            start = random.next_int64(0, stream.count - seq)
            window = stream.read(start, seq + 1)
            x[b] = window[:seq]
            y[b] = window[1:]
        else:
            _fill_document(stream, random.next(stream.documents), seq, end_of_text, x[b], y[b])
    return x, y


def fixed(stream, packing, index, batch, seq, end_of_text):
    """Batches.Fixed: the validation batches (consecutive windows, or the first documents)."""
    x = np.empty((batch, seq), dtype=np.int64)
    y = np.empty((batch, seq), dtype=np.int64)
    for b in range(batch):
        item = index * batch + b
        if packing == "Pack":
            window = stream.read(item * seq, seq + 1)
            x[b] = window[:seq]
            y[b] = window[1:]
        else:
            _fill_document(stream, item, seq, end_of_text, x[b], y[b])
    return x, y


def fixed_count(stream, packing, batch, seq):
    return min(INT32_MAX, ((stream.count - 1) // seq if packing == "Pack" else stream.documents) // batch)


def _fill_document(stream, index, seq, end_of_text, x, y):
    start, length = stream.document(index)
    n = min(length + 1, seq + 1)  # the document and its end-of-text, at most seq + 1 tokens
    tokens = np.zeros(seq + 1, dtype=np.int64)
    tokens[:n] = stream.read(start, n)
    for i in range(seq):
        x[i] = tokens[i] if i < n else end_of_text
        y[i] = tokens[i + 1] if i + 1 < n else IGNORE


def learning_rate(step, steps, warmup, peak, min_ratio):
    """LearningRate.At."""
    if step <= warmup:
        return peak * step / max(1, warmup)
    progress = min(1.0, (step - warmup) / max(1, steps - warmup))
    return peak * (min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * progress)))


# ---------------------------------------------------------------------------------------------------------------
# Settings

def packing_name(value):
    if value in (0, "Pack", "pack"):
        return "Pack"
    if value in (1, "Document", "document"):
        return "Document"
    raise UserError("options.json: Packing %r is neither Pack nor Document" % (value,))


def parse_args(argv):
    p = argparse.ArgumentParser(description="Continue an LnsDsl training run in PyTorch (see the docstring at the top of this file).")
    p.add_argument("--dir", default=os.path.dirname(os.path.abspath(__file__)), help="the export directory (default: this script's)")
    p.add_argument("--steps", type=int)
    p.add_argument("--batch", type=int)
    p.add_argument("--micro-batch", type=int)
    p.add_argument("--lr", type=float)
    p.add_argument("--weight-decay", type=float)
    p.add_argument("--stop-at", type=int, help="stop with a checkpoint after this step (0: run to the end)")
    p.add_argument("--seed", type=int)
    p.add_argument("--cache")
    p.add_argument("--out")
    p.add_argument("--checkpoint-every", type=int)
    p.add_argument("--eval-every", type=int)
    p.add_argument("--dtype", choices=["bf16", "fp32"])
    p.add_argument("--optimizer", choices=["adam", "adamw"])
    p.add_argument("--fsdp", action="store_true")
    p.add_argument("--device", choices=["auto", "cpu", "cuda"])
    p.add_argument("--threads", type=int)
    p.add_argument("--timeout", type=float, default=300, help="seconds a collective waits for the other workers")
    return p.parse_args(argv)


class Settings:
    def __init__(self, args):
        self.dir = os.path.abspath(args.dir)
        path = os.path.join(self.dir, "options.json")
        if not os.path.isfile(path):
            raise UserError("'%s' is missing: export the run with lnsrun first" % path)
        with open(path) as f:
            doc = json.load(f)
        self.document = doc
        o = doc.get("Options")
        if not isinstance(o, dict):
            raise UserError("options.json has no \"Options\" object: re-export the run with lnsrun export --pytorch")
        self.options = o

        def need(name, where=None, what="Options"):
            source = o if where is None else where
            if not isinstance(source, dict) or name not in source or source[name] is None:
                raise UserError("options.json: %s.%s is missing; it is lnsrun's setting and train.py has no default for it: "
                                "re-export with this lnsrun (lnsrun export ... --pytorch OUT)" % (what, name))
            return source[name]

        def pick(flag, name):
            return flag if flag is not None else need(name)

        self.steps = int(pick(args.steps, "Steps"))
        self.batch = int(pick(args.batch, "Batch"))
        micro = int(pick(args.micro_batch, "MicroBatch"))
        self.micro = micro if micro > 0 else self.batch
        self.seq = int(need("Seq"))
        self.lr = float(pick(args.lr, "Lr"))
        self.warmup = int(need("Warmup"))
        self.min_lr_ratio = float(need("MinLrRatio"))
        self.weight_decay = float(pick(args.weight_decay, "WeightDecay"))
        self.clip = float(need("Clip"))
        self.eval_every = int(pick(args.eval_every, "EvalEvery"))
        self.eval_batches = int(need("EvalBatches"))
        self.checkpoint_every = int(pick(args.checkpoint_every, "CheckpointEvery"))
        self.keep = int(need("KeepCheckpoints"))
        self.seed = int(pick(args.seed, "Seed"))
        self.packing = packing_name(need("Packing"))
        self.threads = int(pick(args.threads, "Threads"))
        optimizer = str(pick(args.optimizer, "Optimizer")).lower()
        if optimizer not in ("adam", "adamw", "torch-adam"):
            raise UserError("options.json: Optimizer %r is not adam, adamw or torch-adam" % optimizer)
        self.optimizer = "adam" if optimizer == "torch-adam" else optimizer  # torch-adam is lnsrun's per-parameter Adam: the same numbers
        self.decay_embeddings = bool(need("DecayEmbeddings"))
        adam = need("Adam", doc, "options.json")
        self.betas = (float(need("Beta1", adam, "Adam")), float(need("Beta2", adam, "Adam")))
        self.eps = float(need("Eps", adam, "Adam"))
        self.clip_epsilon = float(need("ClipEpsilon", doc, "options.json"))
        self.decayed = set(need("DecayedParameters", doc, "options.json"))
        self.scales = {name: (float(need("Lr", v, "ParameterScales." + name)), float(need("Eps", v, "ParameterScales." + name)))
                       for name, v in doc.get("ParameterScales", {}).items()}
        stored_dtype = str(need("Dtype")).lower()
        self.dtype = args.dtype or {"bf16": "bf16", "bf16-pure": "bf16", "fp32": "fp32"}.get(stored_dtype, "")  # bf16 here is lnsrun's bf16-pure (whole model in bf16); lnsrun's mixed bf16 is not ported
        device = str(need("Device")).lower()
        self.device = args.device or ("cuda" if device.startswith("cuda") else device if device in ("cpu", "auto") else "auto")
        self.start = int(need("Step", doc, "options.json"))
        self.stop_at = int(args.stop_at if args.stop_at is not None else 0)
        cache = args.cache or doc.get("Cache")
        if not cache:
            if o.get("FineTune"):
                raise UserError("this export is of a fine-tuned run: its data are instruction examples (%s), which train.py does not read; "
                                "give --cache DIR (a pre-training token cache, train.lnstok + valid.lnstok) to continue pre-training these weights" % o.get("Data"))
            raise UserError("options.json names no token cache (\"Cache\"); give --cache DIR (the directory holding train.lnstok)")
        self.cache = os.path.abspath(cache)
        self.end_of_text = need("EndOfText", doc, "options.json")
        self.out = os.path.abspath(args.out or os.path.join(self.dir, "run"))
        self.fsdp = args.fsdp
        self.timeout = args.timeout
        if self.steps < 1 or self.batch < 1 or self.seq < 2 or not self.lr > 0:
            raise UserError("Steps, Batch (>= 1), Seq (>= 2) and Lr (> 0) must be positive")
        if self.batch % self.micro != 0:
            raise UserError("MicroBatch %d must divide Batch %d" % (self.micro, self.batch))
        if not 0 <= self.warmup < self.steps:
            raise UserError("Warmup must be in [0, Steps) (got %d with %d steps)" % (self.warmup, self.steps))
        if self.start >= self.steps:
            raise UserError("the weights are at step %d already; Steps is %d: give --steps above it" % (self.start, self.steps))
        if self.stop_at < 0 or self.stop_at > self.steps or (self.stop_at and self.stop_at <= self.start):
            raise UserError("--stop-at %d must be 0 (run to the end) or in (%d, %d]" % (self.stop_at, self.start, self.steps))
        if self.packing == "Document" and self.end_of_text is None:
            raise UserError("options.json has no \"EndOfText\"; document packing needs it")
        self.accumulation = self.batch // self.micro


# ---------------------------------------------------------------------------------------------------------------
# Distribution

class Distributed:
    def __init__(self, settings):
        self.world = int(os.environ.get("WORLD_SIZE", "1"))
        self.rank = int(os.environ.get("RANK", "0"))
        self.local_rank = int(os.environ.get("LOCAL_RANK", "0"))
        want = settings.device
        if want == "cuda" and not torch.cuda.is_available():
            raise UserError("--device cuda: CUDA is not available to this PyTorch")
        cuda = want == "cuda" or (want == "auto" and torch.cuda.is_available())
        if cuda:
            torch.cuda.set_device(self.local_rank)
            self.device = torch.device("cuda", self.local_rank)
        else:
            self.device = torch.device("cpu")
        self.active = self.world > 1
        if self.active:
            import torch.distributed as dist
            if not dist.is_available():
                raise UserError("this PyTorch was built without torch.distributed")
            dist.init_process_group("nccl" if cuda else "gloo", rank=self.rank, world_size=self.world,
                                    timeout=datetime.timedelta(seconds=settings.timeout))
            self.dist = dist

    @property
    def main(self):
        return self.rank == 0

    def all_sum(self, tensor):
        if self.active:
            self.dist.all_reduce(tensor, op=self.dist.ReduceOp.SUM)
        return tensor

    def barrier(self):
        if self.active:
            self.dist.barrier()

    def close(self):
        if self.active:
            self.dist.destroy_process_group()


def wrap(module, settings, dist):
    """DDP (or FSDP with --fsdp) when distributed; the module itself otherwise."""
    if settings.fsdp:
        try:
            from torch.distributed.fsdp import FullyShardedDataParallel
        except ImportError:
            raise UserError("--fsdp: this PyTorch (%s) has no torch.distributed.fsdp; use DDP (leave out --fsdp) or PyTorch >= 1.12" % torch.__version__)
        if not dist.active:
            raise UserError("--fsdp needs torchrun with more than one process")
        kwargs = {}
        try:
            import functools
            from torch.distributed.fsdp.wrap import size_based_auto_wrap_policy
            kwargs["auto_wrap_policy"] = functools.partial(size_based_auto_wrap_policy, min_num_params=1_000_000)
        except ImportError:
            pass
        return FullyShardedDataParallel(module, device_id=dist.device if dist.device.type == "cuda" else None, **kwargs)
    if dist.active:
        from torch.nn.parallel import DistributedDataParallel
        return DistributedDataParallel(module, device_ids=[dist.local_rank] if dist.device.type == "cuda" else None)
    return module


def full_state_dict(wrapped, settings, dist):
    """The full state dict on rank 0 (None elsewhere), LnsDsl names, on the CPU."""
    if settings.fsdp:
        from torch.distributed.fsdp import FullyShardedDataParallel, StateDictType, FullStateDictConfig
        config = FullStateDictConfig(offload_to_cpu=True, rank0_only=True)
        with FullyShardedDataParallel.state_dict_type(wrapped, StateDictType.FULL_STATE_DICT, config):
            state = wrapped.state_dict()
        return state if dist.main else None
    if not dist.main:
        return None
    module = wrapped.module if dist.active else wrapped
    return {k: v.detach().cpu() for k, v in module.state_dict().items()}


def make_optimizer(module, settings):
    """lnsrun's optimiser: Adam with L2 decay of every parameter, or AdamW decaying exactly DecayedParameters; each
    parameter group with its factor on the learning rate ("lr_scale", applied by the schedule) and its eps
    (ParameterScales)."""
    named = [(n, p) for n, p in module.named_parameters() if p.requires_grad]
    if settings.scales:
        if settings.fsdp:
            raise UserError("this model has per-parameter learning-rate and eps factors (a depth rule), which --fsdp's flattened shards cannot tell apart; use DDP")
        return grouped_optimizer(named, settings)
    if settings.optimizer == "adamw" and settings.fsdp and settings.weight_decay > 0:
        # FSDP's flattened shards hide the names that tell decayed parameters from the rest
        raise UserError("--optimizer adamw with WeightDecay > 0 is not supported with --fsdp (it could not exclude norms, biases and the embedding); use DDP or adam")
    if settings.optimizer == "adamw" and settings.weight_decay == 0:
        # nothing decays: one group, whatever the parameters are called (FSDP flattens their names)
        return torch.optim.AdamW([p for _, p in named], lr=settings.lr, betas=settings.betas, eps=settings.eps, weight_decay=0.0)
    if settings.optimizer == "adamw":
        def plain(name):  # DDP names the parameters module.NAME
            return name[len("module."):] if name.startswith("module.") else name
        unknown = settings.decayed - {plain(n) for n, _ in named}
        if unknown:
            raise UserError("options.json: DecayedParameters names %s, which model.py does not have" % ", ".join(sorted(unknown)))
        decay = [p for n, p in named if plain(n) in settings.decayed]
        rest = [p for n, p in named if plain(n) not in settings.decayed]
        groups = [{"params": decay, "weight_decay": settings.weight_decay}, {"params": rest, "weight_decay": 0.0}]
        return torch.optim.AdamW([g for g in groups if g["params"]], lr=settings.lr, betas=settings.betas, eps=settings.eps)
    return torch.optim.Adam([p for _, p in named], lr=settings.lr, betas=settings.betas, eps=settings.eps, weight_decay=settings.weight_decay)


def grouped_optimizer(named, settings):
    """Parameter groups by (decayed, lr factor, eps factor): torch.optim applies each group's lr, eps and decay."""
    def plain(name):  # DDP names the parameters module.NAME
        return name[len("module."):] if name.startswith("module.") else name
    names = {plain(n) for n, _ in named}
    unknown = (set(settings.scales) | (settings.decayed if settings.optimizer == "adamw" else set())) - names
    if unknown:
        raise UserError("options.json: ParameterScales or DecayedParameters name %s, which model.py does not have" % ", ".join(sorted(unknown)))
    groups = {}
    for n, p in named:
        decayed = settings.optimizer == "adamw" and plain(n) in settings.decayed
        key = (decayed,) + settings.scales.get(plain(n), (1.0, 1.0))
        groups.setdefault(key, []).append(p)
    param_groups = []
    for (decayed, lr_scale, eps_scale), params in groups.items():
        weight_decay = (settings.weight_decay if decayed else 0.0) if settings.optimizer == "adamw" else settings.weight_decay
        param_groups.append({"params": params, "lr": settings.lr * lr_scale, "lr_scale": lr_scale,
                             "eps": settings.eps * eps_scale, "weight_decay": weight_decay})
    cls = torch.optim.AdamW if settings.optimizer == "adamw" else torch.optim.Adam
    return cls(param_groups, lr=settings.lr, betas=settings.betas, eps=settings.eps)


def gradient_norm(module, clip, clip_epsilon, dist, sharded):
    """GradientNorms.Compute: the global norm in fp32 (after summing the shards under FSDP); clipping with clip > 0."""
    grads = [p.grad for p in module.parameters() if p.grad is not None]
    device = dist.device
    if grads:
        total = torch.stack([g.float().square().sum() for g in grads]).sum()
    else:
        total = torch.zeros((), dtype=torch.float32, device=device)
    if sharded:
        total = dist.all_sum(total)
    total = total.sqrt()
    if clip > 0:
        coefficient = (clip / (total + clip_epsilon)).clamp_max(1.0)
        with torch.no_grad():
            for g in grads:
                g.mul_(coefficient.to(g.dtype))
    return total


# ---------------------------------------------------------------------------------------------------------------
# Checkpoints and records

def save_checkpoint(settings, model_py, state, step):
    root = os.path.join(settings.out, "checkpoints")
    os.makedirs(root, exist_ok=True)
    name = "step-%07d" % step
    final = os.path.join(root, name)
    temp = os.path.join(root, ".%s.partial-%d" % (name, os.getpid()))
    if os.path.exists(temp):
        shutil.rmtree(temp)
    os.makedirs(temp)
    model_py.write_safetensors(os.path.join(temp, "model.safetensors"), state, {"step": str(step)})
    shutil.copyfile(os.path.join(settings.dir, "config.json"), os.path.join(temp, "config.json"))
    document = dict(settings.document)
    options = dict(document.get("Options") or {})
    options.update({"Steps": settings.steps, "Batch": settings.batch, "MicroBatch": settings.micro if settings.micro != settings.batch else 0,
                    "Lr": settings.lr, "WeightDecay": settings.weight_decay, "Optimizer": settings.optimizer, "Seed": settings.seed,
                    "CheckpointEvery": settings.checkpoint_every, "EvalEvery": settings.eval_every, "Threads": settings.threads,
                    "Device": settings.device, "Dtype": {"bf16": "bf16-pure", "fp32": "fp32"}.get(settings.dtype, "")})
    document.update({"Options": options, "Step": step, "Cache": settings.cache})
    with open(os.path.join(temp, "options.json"), "w") as f:
        json.dump(document, f, indent=2)
    for file in os.listdir(temp):
        with open(os.path.join(temp, file), "rb") as f:
            os.fsync(f.fileno())
    if os.path.exists(final):
        shutil.rmtree(final)
    os.rename(temp, final)
    try:
        fd = os.open(root, os.O_RDONLY)
        os.fsync(fd)
        os.close(fd)
    except OSError:
        pass
    kept = sorted(d for d in os.listdir(root) if d.startswith("step-"))
    for old in kept[:-settings.keep] if settings.keep > 0 else []:
        shutil.rmtree(os.path.join(root, old), ignore_errors=True)
    return final


def append_line(path, record):
    with open(path, "a") as f:
        f.write(json.dumps(record) + "\n")


def evaluate(wrapped, valid, settings, vocab, dist):
    batch = settings.micro
    available = fixed_count(valid, settings.packing, batch, settings.seq)
    if available == 0:
        batch = 1
        available = fixed_count(valid, settings.packing, 1, settings.seq)
    n = max(1, min(settings.eval_batches, available))
    total, count = 0.0, 0
    with torch.no_grad():
        for i in range(n):
            x, y = fixed(valid, settings.packing, i, batch, settings.seq, settings.end_of_text)
            logits = wrapped(torch.from_numpy(x).to(dist.device))
            targets = torch.from_numpy(y).to(dist.device).reshape(-1)
            total += torch.nn.functional.cross_entropy(logits.reshape(-1, vocab).float(), targets, ignore_index=IGNORE, reduction="sum").item()
            count += int((targets != IGNORE).sum().item())
    return total / max(1, count)


# ---------------------------------------------------------------------------------------------------------------

def train(settings, dist):
    import model as model_py

    if settings.threads > 0:
        torch.set_num_threads(settings.threads)
    elif dist.device.type == "cpu" and dist.active:
        local = int(os.environ.get("LOCAL_WORLD_SIZE", str(dist.world)))
        torch.set_num_threads(max(1, (os.cpu_count() or 1) // local))
    if settings.micro % dist.world != 0:
        raise UserError("the micro-batch (%d sequences; the global batch %d over %d micro-batch(es)) must divide by the %d workers: "
                        "give --batch a multiple of %d x %d" % (settings.micro, settings.batch, settings.accumulation, dist.world, dist.world, settings.accumulation))
    train_file = TokenFile(os.path.join(settings.cache, "train.lnstok"))
    valid_path = os.path.join(settings.cache, "valid.lnstok")
    # As lnsrun: every eval_every steps (0: never) and always at the end.
    valid = TokenFile(valid_path) if os.path.isfile(valid_path) else None
    if settings.packing == "Pack" and train_file.count <= settings.seq + 1:
        raise UserError("the training data has %d tokens, too few for Seq %d" % (train_file.count, settings.seq))
    if settings.packing == "Document" and train_file.documents < 1:
        raise UserError("document packing needs at least one training document")

    module = model_py.load(settings.dir)
    module.to(dist.device)
    dtype_name = settings.dtype or ("bf16" if dist.device.type == "cuda" else "fp32")
    if dtype_name == "bf16":
        module.to(torch.bfloat16)
    module.train()
    wrapped = wrap(module, settings, dist)
    optimizer = make_optimizer(wrapped, settings)
    if dist.main:
        os.makedirs(settings.out, exist_ok=True)
    ranks = os.path.join(settings.out, "ranks")
    os.makedirs(ranks, exist_ok=True)
    with open(os.path.join(ranks, "%d.pid" % dist.rank), "w") as f:
        f.write(str(os.getpid()))

    share = settings.micro // dist.world
    rows = slice(dist.rank * share, (dist.rank + 1) * share)
    vocab = None
    tokens_per_step = settings.batch * settings.seq
    if dist.main:
        print("training steps %d..%d of %d x %d tokens (%d micro-batch(es) of %d, %d per worker) on %d worker(s), %s %s%s; from step %d with a fresh optimizer (%s)"
              % (settings.start + 1, settings.steps, settings.batch, settings.seq, settings.accumulation, settings.micro, share, dist.world,
                 dist.device, dtype_name, ", FSDP" if settings.fsdp else (", DDP" if dist.active else ""), settings.start, settings.optimizer), flush=True)
    clock = time.time()
    metrics = os.path.join(settings.out, "metrics.jsonl")
    last = None
    for step in range(settings.start + 1, settings.steps + 1):
        lr = learning_rate(step, settings.steps, settings.warmup, settings.lr, settings.min_lr_ratio)
        for group in optimizer.param_groups:
            group["lr"] = lr * group.get("lr_scale", 1.0)
        optimizer.zero_grad(set_to_none=True)
        random = for_step(settings.seed, step)
        loss_sum = torch.zeros((), dtype=torch.float32, device=dist.device)
        for m in range(settings.accumulation):
            x, y = sample(train_file, settings.packing, settings.micro, settings.seq, settings.end_of_text, random)
            counted = max(1, int((y != IGNORE).sum()))  # the global micro-batch's targets: every rank knows them
            xs = torch.from_numpy(x[rows].copy()).to(dist.device)
            ys = torch.from_numpy(y[rows].copy()).to(dist.device).reshape(-1)
            sync = m == settings.accumulation - 1 or not dist.active
            context = wrapped.no_sync() if not sync else _null()
            with context:
                logits = wrapped(xs)
                vocab = logits.shape[-1]
                summed = torch.nn.functional.cross_entropy(logits.reshape(-1, vocab).float(), ys, ignore_index=IGNORE, reduction="sum")
                loss = summed * (dist.world / (counted * settings.accumulation))
                loss.backward()
            loss_sum += loss.detach()
        norm = gradient_norm(wrapped, settings.clip, settings.clip_epsilon, dist, sharded=settings.fsdp)
        loss_value = dist.all_sum(loss_sum).item() / dist.world
        norm_value = norm.item()
        if not (math.isfinite(loss_value) and math.isfinite(norm_value)):
            raise UserError("the loss became %s (gradient norm %s) at step %d; stopping before the update. Lower --lr or set Clip."
                            % (loss_value, norm_value, step))
        optimizer.step()
        last = loss_value
        if dist.main:
            elapsed = time.time() - clock
            print("step %d loss %.6f lr %.6g" % (step, loss_value, lr), flush=True)
            append_line(metrics, {"step": step, "loss": loss_value, "lr": lr, "grad_norm": norm_value,
                                  "tokens_per_second": (step - settings.start) * tokens_per_step / max(elapsed, 1e-9),
                                  "elapsed_s": elapsed, "resident_mb": 0.0, "block_grad_norms": []})
        end = step == settings.steps or step == settings.stop_at
        if valid is not None and (end or (settings.eval_every > 0 and step % settings.eval_every == 0)):
            validation = evaluate(wrapped, valid, settings, vocab, dist)
            if dist.main:
                print("step %d validation loss %.6f perplexity %.3f" % (step, validation, math.exp(min(validation, 700))), flush=True)
                append_line(os.path.join(settings.out, "eval.jsonl"),
                            {"step": step, "validation_loss": validation, "validation_perplexity": math.exp(min(validation, 700))})
        if end or (settings.checkpoint_every > 0 and step % settings.checkpoint_every == 0):
            state = full_state_dict(wrapped, settings, dist)
            if dist.main:
                print("checkpoint %s" % save_checkpoint(settings, model_py, state, step), flush=True)
            dist.barrier()
        if end:
            break
    if dist.main:
        stopped = settings.stop_at if settings.stop_at else settings.steps
        print("%s at step %d: train loss %.4f; run directory %s" % ("stopped" if stopped < settings.steps else "done", stopped, last, settings.out), flush=True)


class _null:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    dist = None

    def terminated(signum, frame):
        raise SystemExit("worker failed: stopped by signal %d (the launcher ends the others when a worker dies)" % signum)

    signal.signal(signal.SIGTERM, terminated)
    try:
        settings = Settings(args)
        dist = Distributed(settings)
        train(settings, dist)
    except UserError as e:
        print("error: %s" % e, file=sys.stderr, flush=True)
        return 2
    except RuntimeError as e:
        if dist is not None and dist.active:
            print("worker failed: rank %d of %d stopped: %s" % (dist.rank, dist.world, str(e).strip().splitlines()[0] if str(e).strip() else repr(e)),
                  file=sys.stderr, flush=True)
            os._exit(3)  # the process group cannot be shut down cleanly once a peer is gone
        raise
    if dist is not None:
        dist.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
