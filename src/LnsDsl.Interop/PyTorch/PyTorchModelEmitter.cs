using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Text;

namespace LnsDsl.Interop.PyTorch
{
    /// <summary>
    /// Writes <c>model.py</c>: an LnsDsl model's architecture as a readable PyTorch module (PyTorch 1.13 and newer, no
    /// other package), computed exactly as the generated TorchSharp forward computes it (<c>Emitter.cs</c> in the
    /// generator, <see cref="Fused"/>): RMSNorm statistics in fp32, the LNS factor folded into the norm weight, RoPE's
    /// rotate-half layout with tables built in fp64, fp32 softmax. Only what the model uses is written: one class per
    /// placement of its blocks, its norm type, its attention and feed-forward options; each block's factors appear as
    /// literals (<c>BLOCKS</c>). The public names (<c>read_safetensors</c>, <c>write_safetensors</c>, <c>Model</c>,
    /// <c>load</c>) are the contract <c>train.py</c> and users import.
    /// </summary>
    public static class PyTorchModelEmitter
    {
        /// <summary>The source of <c>model.py</c> for <paramref name="spec"/>.</summary>
        public static string ModelPy(ModelSpec spec)
        {
            ArgumentNullException.ThrowIfNull(spec);
            var w = new PyWriter();
            WriteDocstring(w, spec);
            w.Raw(Imports);
            w.Raw(SafeTensorsCode);
            WriteBlocksTable(w, spec);
            WriteNorms(w, spec);
            if (spec.Rope) WriteRope(w, spec);
            WriteAttention(w, spec);
            WriteMlp(w, spec);
            if (spec.HyperStreams > 0) w.Raw(HyperConnectionCode);
            foreach (var program in Programs(spec))
                WriteBlock(w, spec, program);
            WriteModel(w, spec);
            w.Raw(LoadCode);
            return w.ToString().TrimEnd() + "\n";
        }

        /// <summary>The block programs of <paramref name="spec"/>'s placements, in placement order.</summary>
        private static IReadOnlyList<BlockProgram> Programs(ModelSpec spec)
            => spec.Blocks.Select(b => b.Placement).Distinct().OrderBy(p => p).Select(spec.ProgramOf).ToList();

        /// <summary>The extra constructor arguments of the model's norm: DyT's initial alpha (BHyT's lambda) from config.json's
        /// <paramref name="setting"/>, and BHyT's kappa.</summary>
        private static string NormAlpha(ModelSpec s, string setting)
            => (Norms.HasAlpha(s.NormType) ? $", config[\"{setting}\"]" : "") + (s.NormType == NormType.BHyT ? ", config[\"Kappa\"]" : "");

        /// <summary>A Python float literal that reads back as the same double (<c>"R"</c>, with <c>.0</c> where it would read as an int).</summary>
        internal static string Py(double d)
        {
            if (double.IsPositiveInfinity(d)) return "math.inf";
            if (double.IsNegativeInfinity(d)) return "-math.inf";
            if (double.IsNaN(d)) return "math.nan";
            string r = d.ToString("R", CultureInfo.InvariantCulture);
            return r.IndexOfAny(new[] { '.', 'E', 'e' }) >= 0 ? r : r + ".0";
        }

        private static string I(long v) => v.ToString(CultureInfo.InvariantCulture);

        private static string NormClass(NormType t) => t switch
        {
            NormType.LayerNorm => "LayerNorm",
            NormType.RmsNormPlusOne => "RMSNormPlusOne",
            NormType.RmsNormBias => "RMSNormBias",
            NormType.CRmsNorm => "CRMSNorm",
            NormType.DyT => "DyT",
            NormType.BHyT => "BHyT",
            _ => "RMSNorm",
        };

        /// <summary>The QK norms: the model's RMSNorm flavour (Gemma's 1 + w where the model has it; RMSNorm otherwise, LayerNorm models included).</summary>
        private static string QkNormClass(ModelSpec s) => s.NormType == NormType.RmsNormPlusOne ? "RMSNormPlusOne" : "RMSNorm";

        private static string BlockClass(BlockProgram program) => program.Name + "Block";

        private static bool ExplicitAttention(ModelSpec s) => Attentions.Explicit(s.SoftCap, s.QueryScaleDim);

        private static void WriteDocstring(PyWriter w, ModelSpec s)
        {
            string ffn = Activations.IsGated(s.Activation)
                ? $"gate_up_proj.* fused: rows [0, {s.FeedForward}) gate, then {s.FeedForward} rows up; down_proj"
                : "up_proj, down_proj";
            var norms = Programs(s).Select(p => $"{p.Label} blocks: {string.Join(", ", p.Norms)}").ToList();
            long q = (long)s.Heads * s.HeadDim, kv = (long)s.KvHeads * s.HeadDim;
            w.Line("\"\"\"" + $"{s.Name}: {s.PlacementLabel}, {Norms.Label(s.NormType)}.");
            w.Line();
            w.Line($"{s.Layers} blocks x {s.Hidden} wide, {s.Heads} heads ({s.KvHeads} key/value, head size {s.HeadDim}), " +
                   $"{Activations.Label(s.Activation)} FFN {s.FeedForward}, vocab {s.Vocab}, max sequence {s.MaxSeq}, " +
                   $"{s.ParameterCount.ToString("N0", CultureInfo.InvariantCulture)} parameters.");
            var options = s.Options();
            if (options.Count > 0) w.Line("Options: " + string.Join(", ", options) + ".");
            w.Line();
            w.Line($"Generated by LnsDsl from the model's ModelSpec ({s.FullName}); config.json beside this file is that");
            w.Line("record and model.safetensors its weights. Not hand-maintained: export again rather than edit. It computes");
            w.Line("exactly what the generated TorchSharp model computes (same logits up to float rounding).");
            w.Line();
            w.Line("Parameter names are LnsDsl's own (state_dict() keys, the names in model.safetensors):");
            w.Line("  embed_tokens.weight" + (s.EmbeddingNorm ? ", embed_norm.*" : "") + ", norm.*" + (s.TieEmbeddings ? " (output head tied to embed_tokens: no lm_head)" : ", lm_head.weight"));
            w.Line($"  layers.{{i}}.self_attn.qkv_proj.* fused: rows [0, {q}) q, then {kv} rows k, then {kv} rows v; o_proj");
            if (s.QkNorm) w.Line("  layers.{i}.self_attn.q_norm.weight, k_norm.weight" + (s.ValueNorm ? ", v_norm.weight" : "") + " (" + (s.QkNormScope == QkNormScope.Projection ? "over the whole projections" : "per head") + ")");
            w.Line("  layers.{i}.mlp." + ffn);
            foreach (var n in norms) w.Line("  " + n);
            if (s.LayerScale) w.Line("  layers.{i}.attn_layer_scale, layers.{i}.mlp_layer_scale (LayerScale's per-channel gains)");
            if (s.ResidualGate == ResidualGate.Scalar) w.Line("  layers.{i}.attn_gate, layers.{i}.mlp_gate (residual gates: one scalar each)");
            if (s.HyperStreams > 0) w.Line("  layers.{i}.attn_hc.*, layers.{i}.mlp_hc.* (hyper-connections: phi, bias, alpha)");
            w.Line("layers.{i} is block l = i + 1. Norm weights hold the learned gains only: the depth factors live in BLOCKS.");
            w.Line();
            w.Line("Public API: read_safetensors, write_safetensors, Model(config), load(directory).");
            w.Line("\"\"\"");
        }

        private const string Imports = """"
import ctypes
import json
import math
import os
import struct

import torch
import torch.nn.functional as F
from torch import nn


"""";

        private const string SafeTensorsCode = """"
# ---- safetensors, without the safetensors package ----------------------------------------------------------------

_DTYPES = {
    "F64": torch.float64, "F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16,
    "I64": torch.int64, "I32": torch.int32, "U8": torch.uint8, "BOOL": torch.bool,
}
_NAMES = {dtype: name for name, dtype in _DTYPES.items()}
# torch.frombuffer reads these through a same-sized integer type, then views the bits.
_VIA = {torch.bfloat16: torch.int16, torch.bool: torch.uint8}


def read_safetensors(path):
    """The tensors of a .safetensors file, name -> CPU tensor (little-endian data, as the format stores it)."""
    tensors = {}
    with open(path, "rb") as f:
        (size,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(size).decode("utf-8"))
        start = 8 + size
        for name, info in header.items():
            if name == "__metadata__":
                continue
            dtype = _DTYPES[info["dtype"]]
            begin, end = info["data_offsets"]
            shape = info["shape"]
            if end == begin:
                tensors[name] = torch.empty(shape, dtype=dtype)
                continue
            f.seek(start + begin)
            buffer = bytearray(end - begin)
            f.readinto(buffer)
            flat = torch.frombuffer(buffer, dtype=_VIA.get(dtype, dtype))
            tensors[name] = flat.view(dtype).reshape(shape)
    return tensors


def write_safetensors(path, tensors, metadata=None):
    """Writes name -> tensor as a .safetensors file (metadata: {"format": "pt"} unless given)."""
    header = {"__metadata__": dict(metadata) if metadata is not None else {"format": "pt"}}
    parts, offset = [], 0
    for name, tensor in tensors.items():
        t = tensor.detach().to("cpu").contiguous()
        size = t.numel() * t.element_size()
        header[name] = {"dtype": _NAMES[t.dtype], "shape": list(t.shape), "data_offsets": [offset, offset + size]}
        parts.append((t, size))
        offset += size
    encoded = json.dumps(header, separators=(",", ":")).encode("utf-8")
    encoded += b" " * (-len(encoded) % 8)  # the data starts 8-aligned
    with open(path + ".tmp", "wb") as f:
        f.write(struct.pack("<Q", len(encoded)))
        f.write(encoded)
        for t, size in parts:
            if size:
                f.write(ctypes.string_at(t.data_ptr(), size))
    os.replace(path + ".tmp", path)


"""";

        private static void WriteBlocksTable(PyWriter w, ModelSpec s)
        {
            w.Line("# ---- the architecture --------------------------------------------------------------------------------------------");
            w.Line();
            w.Line("# Each block as LnsDsl resolved it: (placement, s = factor on the pre-norm outputs, alpha = residual multiplier).");
            w.Line("# s is " + (s.Scale switch
            {
                ScaleRule.InvSqrtDepth => "LayerNorm Scaling's 1/sqrt(l)",
                ScaleRule.InvDepth => "1/l",
                _ => "1 (no depth scaling)",
            }) + " where a block has pre-norms; the final norm is never scaled. alpha is DeepNorm's (1 otherwise).");
            w.Line("BLOCKS = [");
            foreach (var b in s.Blocks)
            {
                string scale = !Placements.HasPreNorm(b.Placement) ? "no pre-norm to scale" : s.Scale switch
                {
                    ScaleRule.InvSqrtDepth => $"LNS 1/sqrt({b.Index})",
                    ScaleRule.InvDepth => $"1/{b.Index}",
                    _ => "norm scale 1",
                };
                string alpha = b.Placement == Placement.DeepNorm ? $", alpha {Py(b.ResidualAlpha)}" : "";
                w.Line($"    (\"{b.Placement}\", {Py(b.NormScale)}, {Py(b.ResidualAlpha)}),  # block {b.Index}: {Placements.Label(b.Placement)}, {scale}{alpha}");
            }
            w.Line("]");
            w.Line();
            w.Line();
        }

        private static void WriteNorms(PyWriter w, ModelSpec s)
        {
            var used = new SortedSet<string>(StringComparer.Ordinal) { NormClass(s.NormType) };
            if (s.QkNorm) used.Add(QkNormClass(s));
            if (used.Contains("DyT"))
                w.Raw(""""
class DyT(nn.Module):
    """Dynamic Tanh (LnsDsl's Fused.DyT): tanh(alpha * x) * (weight * scale) + bias * scale, alpha a learned scalar,
    no statistics (eps is accepted and unused); computed in fp32 for narrower inputs."""

    def __init__(self, size, eps, alpha):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(size))
        self.bias = nn.Parameter(torch.zeros(size))
        self.alpha = nn.Parameter(torch.full((1,), float(alpha)))

    def forward(self, x, scale=1.0):
        xf = x if x.dtype in (torch.float32, torch.float64) else x.float()
        w = self.weight if scale == 1.0 else self.weight * scale
        b = self.bias if scale == 1.0 else self.bias * scale
        y = torch.tanh(xf * self.alpha.to(xf.dtype)) * w.to(xf.dtype) + b.to(xf.dtype)
        return y.to(x.dtype)


"""");
            if (used.Contains("BHyT"))
                w.Raw(""""
class BHyT(nn.Module):
    """Bounded hyperbolic tanh (LnsDsl's Fused.BHyT): tanh(lambda * x / (kappa * sqrt(mean(x^2) + eps))) * (weight * scale),
    lambda a learned scalar (stored as alpha), kappa a constant; the statistic exact and in fp32; no bias."""

    def __init__(self, size, eps, lam, kappa):
        super().__init__()
        self.eps, self.kappa = eps, kappa
        self.weight = nn.Parameter(torch.ones(size))
        self.alpha = nn.Parameter(torch.full((1,), float(lam)))

    def forward(self, x, scale=1.0):
        xf = x if x.dtype in (torch.float32, torch.float64) else x.float()
        r = torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + self.eps) * (1.0 / self.kappa)
        w = self.weight if scale == 1.0 else self.weight * scale
        y = torch.tanh(xf * r * self.alpha.to(xf.dtype)) * w.to(xf.dtype)
        return y.to(x.dtype)


"""");
            if (used.Contains("CRMSNorm")) used.Add("RMSNormBias");
            if (used.Contains("RMSNorm"))
                w.Raw(""""
class RMSNorm(nn.Module):
    """x * rsqrt(mean(x^2) + eps) * (weight * scale), the statistics in fp32 (LnsDsl's Fused.RmsNorm).
    scale (a block's LNS factor) is folded into the weight vector."""

    def __init__(self, size, eps):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(size))

    def forward(self, x, scale=1.0):
        if x.dtype in (torch.float32, torch.float64):
            y = x * x.square().mean(-1, keepdim=True).add(self.eps).rsqrt()
        else:
            xf = x.float()
            y = (xf * xf.square().mean(-1, keepdim=True).add(self.eps).rsqrt()).to(x.dtype)
        return y * (self.weight if scale == 1.0 else self.weight * scale)


"""");
            if (used.Contains("RMSNormPlusOne"))
                w.Raw(""""
class RMSNormPlusOne(nn.Module):
    """Gemma's RMSNorm: x * rsqrt(mean(x^2) + eps) * ((1 + weight) * scale), all in fp32 (LnsDsl's Fused.RmsNormPlusOne).
    The weight starts at 0 (gain 1)."""

    def __init__(self, size, eps):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.zeros(size))

    def forward(self, x, scale=1.0):
        xf = x if x.dtype in (torch.float32, torch.float64) else x.float()
        y = xf * xf.square().mean(-1, keepdim=True).add(self.eps).rsqrt()
        gain = self.weight.to(xf.dtype) + 1.0
        if scale != 1.0:
            gain = gain * scale
        return (y * gain).to(x.dtype)


"""");
            if (used.Contains("LayerNorm"))
                w.Raw(""""
class LayerNorm(nn.Module):
    """((x - mean) / sqrt(var + eps)) * (weight * scale) + bias * scale, in fp32 for narrower inputs (LnsDsl's Fused.LayerNorm)."""

    def __init__(self, size, eps):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(size))
        self.bias = nn.Parameter(torch.zeros(size))

    def forward(self, x, scale=1.0):
        w = self.weight if scale == 1.0 else self.weight * scale
        b = self.bias if scale == 1.0 else self.bias * scale
        if x.dtype in (torch.float32, torch.float64):
            return F.layer_norm(x, (x.shape[-1],), w, b, self.eps)
        return F.layer_norm(x.float(), (x.shape[-1],), w.float(), b.float(), self.eps).to(x.dtype)


"""");
            if (used.Contains("RMSNormBias"))
                w.Raw(""""
class RMSNormBias(nn.Module):
    """x * rsqrt(mean(x^2) + eps) * (weight * scale) + bias * scale, the statistics in fp32 (LnsDsl's Fused.RmsNormBias).
    On a zero-mean stream it equals LayerNorm with the same weight, bias and eps."""

    def __init__(self, size, eps):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(size))
        self.bias = nn.Parameter(torch.zeros(size))

    def forward(self, x, scale=1.0):
        xf = x if x.dtype in (torch.float32, torch.float64) else x.float()
        y = (xf * xf.square().mean(-1, keepdim=True).add(self.eps).rsqrt()).to(x.dtype)
        w = self.weight if scale == 1.0 else self.weight * scale
        b = self.bias if scale == 1.0 else self.bias * scale
        return y * w.to(y.dtype) + b.to(y.dtype)


"""");
            if (used.Contains("CRMSNorm"))
                w.Raw(""""
class CRMSNorm(RMSNormBias):
    """Compressed RMSNorm (LnsDsl's Fused.CRmsNorm): x holds the first d - 1 coordinates of a zero-mean vector, the
    last being minus their sum; the whole d-wide vector is restored and normalised (RMSNorm with a bias)."""

    def forward(self, x, scale=1.0):
        return super().forward(torch.cat([x, -x.sum(-1, keepdim=True)], -1), scale)


"""");
            w.Line($"Norm = {NormClass(s.NormType)}  # the model's norm ({Norms.Label(s.NormType)})");
            w.Line($"STREAM = {Norms.StreamWidth(s.NormType, s.Hidden)}  # the residual stream's width: what the embedding, o_proj and down_proj write" +
                   (s.NormType == NormType.CRmsNorm ? " (Hidden - 1: CRMSNorm)" : ""));
            w.Line();
            w.Line();
        }

        private static void WriteRope(PyWriter w, ModelSpec s)
        {
            string scaling = s.RopeScaling switch
            {
                RopeScaling.Linear => $"linear scaling: every frequency divided by RopeFactor ({Py(s.RopeFactor)})",
                RopeScaling.Llama3 => $"Llama3 scaling x{Py(s.RopeFactor)} (low {Py(s.RopeLowFreqFactor)}, high {Py(s.RopeHighFreqFactor)}, original {s.RopeOriginalMaxSeq})",
                _ => "no frequency scaling",
            };
            w.Line("class Rope:");
            w.Line($"    \"\"\"Rotary tables [MaxSeq, HeadDim], rotate-half layout, base RopeTheta ({Py(s.RopeTheta)}), {scaling}.");
            w.Line("    Built in fp64, kept in fp32 and converted once per device and dtype (derived data: not in the state_dict).\"\"\"");
            w.Line();
            w.Line("    def __init__(self, config):");
            w.Line("        head_dim, theta = config[\"HeadDim\"], config[\"RopeTheta\"]");
            switch (s.RopeScaling)
            {
                case RopeScaling.None:
                    w.Line("        inv_freq = torch.pow(theta, torch.arange(0, head_dim, 2, dtype=torch.float64) / head_dim).reciprocal()");
                    break;
                case RopeScaling.Linear:
                    w.Line("        factor = config[\"RopeFactor\"]");
                    w.Line("        inv_freq = torch.tensor([1.0 / math.pow(theta, 2.0 * j / head_dim) / factor for j in range(head_dim // 2)], dtype=torch.float64)");
                    break;
                default:
                    w.Line("        factor, low, high = config[\"RopeFactor\"], config[\"RopeLowFreqFactor\"], config[\"RopeHighFreqFactor\"]");
                    w.Line("        original = config[\"RopeOriginalMaxSeq\"]");
                    w.Line("        inv = []");
                    w.Line("        for j in range(head_dim // 2):");
                    w.Line("            f = 1.0 / math.pow(theta, 2.0 * j / head_dim)");
                    w.Line("            wavelen = 2 * math.pi / f");
                    w.Line("            if wavelen > original / low:  # low frequencies: divided by the factor");
                    w.Line("                f /= factor");
                    w.Line("            elif wavelen >= original / high:  # between: mixed");
                    w.Line("                s = (original / wavelen - low) / (high - low)");
                    w.Line("                f = (1 - s) * f / factor + s * f");
                    w.Line("            inv.append(f)");
                    w.Line("        inv_freq = torch.tensor(inv, dtype=torch.float64)");
                    break;
            }
            w.Raw(""""
        freqs = torch.outer(torch.arange(config["MaxSeq"], dtype=torch.float64), inv_freq)
        emb = torch.cat([freqs, freqs], -1)
        self.cos, self.sin = emb.cos().float(), emb.sin().float()
        self._on = {}

    def tables(self, like, time):
        key = (like.device, like.dtype)
        if key not in self._on:
            self._on[key] = (self.cos.to(like.device, like.dtype), self.sin.to(like.device, like.dtype))
        cos, sin = self._on[key]
        return cos[:time].unsqueeze(1), sin[:time].unsqueeze(1)  # [T, 1, D], against [B, T, heads, D]


def rotate_half(x):
    half = x.shape[-1] // 2
    return torch.cat([-x[..., half:], x[..., :half]], -1)


def apply_rope(x, cos, sin):
    """x [B, T, heads, D]: x * cos + rotate_half(x) * sin."""
    return x * cos + rotate_half(x) * sin


"""");
        }

        private static void WriteAttention(PyWriter w, ModelSpec s)
        {
            long q = (long)s.Heads * s.HeadDim, kv = (long)s.KvHeads * s.HeadDim;
            int groups = s.Heads / s.KvHeads;
            bool explicitOnly = ExplicitAttention(s);
            int scaleDim = s.QueryScaleDim != 0 ? s.QueryScaleDim : s.HeadDim;
            bool projectionNorm = s.QkNorm && s.QkNormScope == QkNormScope.Projection;

            w.Line("def causal_attention(q, k, v, scale):");
            w.Line("    \"\"\"Explicit causal attention on [B, heads, T, D]: scores q k^T * scale" + (s.SoftCap > 0 ? ", soft-capped tanh(s / cap) * cap" : "") + ", -inf above the diagonal, softmax in fp32.\"\"\"");
            w.Line("    scores = q.matmul(k.transpose(2, 3)) * scale");
            if (s.SoftCap > 0) w.Line($"    scores = torch.tanh(scores / {Py(s.SoftCap)}) * {Py(s.SoftCap)}  # attention soft-cap (SoftCap)");
            w.Line("    time = q.shape[2]");
            w.Line("    mask = torch.ones(time, time, dtype=torch.bool, device=q.device).triu(1)");
            w.Line("    scores = scores.masked_fill(mask, -math.inf)");
            w.Line("    return scores.float().softmax(-1).to(v.dtype).matmul(v)");
            w.Line();
            w.Line();
            string heads = s.KvHeads == s.Heads ? $"{s.Heads} heads" : $"{s.Heads} query heads sharing {s.KvHeads} key/value heads (query head h uses kv head h // {groups})";
            w.Line("class Attention(nn.Module):");
            w.Line($"    \"\"\"Causal self-attention, {heads} of size {s.HeadDim}: fused qkv_proj (rows q, k, v)" +
                   (s.QkNorm ? (projectionNorm ? ", q and k normalised over their whole projections" : ", q and k normalised per head") : "") +
                   (s.Rope ? ", rotary embeddings" : ", no position encoding") +
                   (explicitOnly ? $", explicit attention (scale {scaleDim}^-0.5)" : ", scaled dot-product attention") + ", o_proj.\"\"\"");
            w.Line();
            w.Line("    def __init__(self, config" + (s.Rope ? ", rope" : "") + "):");
            w.Line("        super().__init__()");
            w.Line("        hidden, heads, kv_heads, head_dim = config[\"Hidden\"], config[\"Heads\"], config[\"KvHeads\"], config[\"HeadDim\"]");
            w.Line("        self.heads, self.kv_heads, self.head_dim = heads, kv_heads, head_dim");
            w.Line("        self.qkv_proj = nn.Linear(hidden, (heads + 2 * kv_heads) * head_dim, bias=config.get(\"QkvBias\", False))");
            w.Line("        self.o_proj = nn.Linear(heads * head_dim, STREAM, bias=config.get(\"OutputBias\", False))");
            if (s.QkNorm)
            {
                string cls = QkNormClass(s);
                if (projectionNorm)
                {
                    w.Line($"        self.q_norm = {cls}(heads * head_dim, config[\"Eps\"])  # over all q channels");
                    w.Line($"        self.k_norm = {cls}(kv_heads * head_dim, config[\"Eps\"])  # over all k channels");
                }
                else
                {
                    w.Line($"        self.q_norm = {cls}(head_dim, config[\"Eps\"])  # per head");
                    w.Line($"        self.k_norm = {cls}(head_dim, config[\"Eps\"])");
                    if (s.ValueNorm) w.Line($"        self.v_norm = {cls}(head_dim, config[\"Eps\"])  # HybridNorm normalises v too");
                }
            }
            if (s.Rope) w.Line("        self.rope = rope");
            w.Line($"        self.scale = 1.0 / math.sqrt({(s.QueryScaleDim != 0 ? "config[\"QueryScaleDim\"]" : "head_dim")})  # {scaleDim}^-0.5");
            w.Line();
            w.Line("    def forward(self, x):");
            w.Line("        batch, time, _ = x.shape");
            w.Line("        q, k, v = self.qkv_proj(x).split([self.heads * self.head_dim, self.kv_heads * self.head_dim, self.kv_heads * self.head_dim], -1)");
            if (projectionNorm)
            {
                w.Line("        q, k = self.q_norm(q), self.k_norm(k)  # before the heads are split");
            }
            w.Line("        q = q.view(batch, time, self.heads, self.head_dim)");
            w.Line("        k = k.view(batch, time, self.kv_heads, self.head_dim)");
            w.Line("        v = v.view(batch, time, self.kv_heads, self.head_dim)");
            if (s.QkNorm && !projectionNorm) w.Line(s.ValueNorm ? "        q, k, v = self.q_norm(q), self.k_norm(k), self.v_norm(v)" : "        q, k = self.q_norm(q), self.k_norm(k)");
            if (s.Rope)
            {
                w.Line("        cos, sin = self.rope.tables(x, time)");
                w.Line("        q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)");
            }
            w.Line("        q, k, v = q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2)  # [B, heads, T, D]");
            if (groups > 1)
            {
                w.Line($"        k = k.repeat_interleave(self.heads // self.kv_heads, dim=1)  # GQA: {groups} query heads per kv head");
                w.Line("        v = v.repeat_interleave(self.heads // self.kv_heads, dim=1)");
            }
            if (explicitOnly)
            {
                w.Line("        o = causal_attention(q, k, v, self.scale)  # always explicit: soft-cap / score scale");
            }
            else
            {
                w.Line("        if hasattr(F, \"scaled_dot_product_attention\"):  # PyTorch 2.0 and newer");
                w.Line("            o = F.scaled_dot_product_attention(q, k, v, is_causal=True)");
                w.Line("        else:");
                w.Line("            o = causal_attention(q, k, v, self.scale)");
            }
            w.Line("        return self.o_proj(o.transpose(1, 2).reshape(batch, time, self.heads * self.head_dim))");
            w.Line();
            w.Line();
        }

        private static void WriteMlp(PyWriter w, ModelSpec s)
        {
            bool gated = Activations.IsGated(s.Activation);
            string text = s.Activation switch
            {
                Activation.Geglu => "GeGLU: down(gelu(gate(x)) * up(x)) (exact erf GELU)",
                Activation.GegluTanh => "GeGLU: down(gelu_tanh(gate(x)) * up(x)) (tanh-approximate GELU)",
                Activation.Gelu => "GELU: down(gelu(up(x)))",
                _ => "SwiGLU: down(silu(gate(x)) * up(x))",
            };
            w.Line("class Mlp(nn.Module):");
            w.Line($"    \"\"\"{text}" + (gated ? ", with the fused gate_up_proj (gate rows first)." : ".") + "\"\"\"");
            w.Line();
            w.Line("    def __init__(self, config):");
            w.Line("        super().__init__()");
            w.Line("        hidden, ffn, bias = config[\"Hidden\"], config[\"FeedForward\"], config.get(\"MlpBias\", False)");
            w.Line("        self.ffn = ffn");
            if (gated) w.Line("        self.gate_up_proj = nn.Linear(hidden, 2 * ffn, bias=bias)");
            else w.Line("        self.up_proj = nn.Linear(hidden, ffn, bias=bias)");
            w.Line("        self.down_proj = nn.Linear(ffn, STREAM, bias=bias)");
            w.Line();
            w.Line("    def forward(self, x):");
            if (gated)
            {
                w.Line("        gate, up = self.gate_up_proj(x).split([self.ffn, self.ffn], -1)");
                string g = s.Activation switch
                {
                    Activation.Geglu => "F.gelu(gate)",
                    Activation.GegluTanh => "F.gelu(gate, approximate=\"tanh\")",
                    _ => "F.silu(gate)",
                };
                w.Line($"        return self.down_proj({g} * up)");
            }
            else
            {
                w.Line("        return self.down_proj(F.gelu(self.up_proj(x)))");
            }
            w.Line();
            w.Line();
        }

        /// <summary>One placement's block class: its <see cref="BlockProgram"/> (shared with the generated TorchSharp code and
        /// <c>lnsrun describe</c>) as the docstring's equations, the norms it names, and a line per step.</summary>
        /// <summary>The Python class of <paramref name="program"/>'s blocks for <paramref name="spec"/> (what <see cref="ModelPy"/> writes for each placement).</summary>
        public static string BlockClassSource(ModelSpec spec, BlockProgram program)
        {
            var w = new PyWriter();
            WriteBlock(w, spec, program);
            return w.ToString();
        }

        private static void WriteBlock(PyWriter w, ModelSpec s, BlockProgram program)
        {
            w.Line($"class {BlockClass(program)}(nn.Module):");
            w.Line($"    \"\"\"{program.Label}: {string.Join(", ", program.Equations())}." +
                   (program.UsesScale ? " s (the block's depth factor) multiplies the norm outputs." : "") +
                   (program.UsesAlpha ? " alpha is the block's residual multiplier." : "") + "\"\"\"");
            w.Line();
            w.Line("    def __init__(self, config, s, alpha" + (s.Rope ? ", rope" : "") + "):");
            w.Line("        super().__init__()");
            w.Line("        hidden, eps = config[\"Hidden\"], config[\"Eps\"]");
            w.Line("        self.s, self.alpha = s, alpha");
            w.Line("        self.self_attn = Attention(config" + (s.Rope ? ", rope" : "") + ")");
            w.Line("        self.mlp = Mlp(config)");
            foreach (var (n, position) in program.NormPositions)
                w.Line($"        self.{n} = Norm(hidden, eps{NormAlpha(s, position == BranchKind.Attention ? "TanhAlpha" : "TanhAlphaMlp")})");
            foreach (var g in program.Gains)
                w.Line($"        self.{g.Parameter} = nn.Parameter(torch.full(({(g.Scalar ? "1" : "hidden")},), float(config[\"{g.InitSetting}\"])))" + (g.Scalar ? "  # a residual gate (one scalar)" : ""));
            foreach (var c in program.Connections)
                w.Line($"        self.{c} = HyperConnection(config)");
            w.Line();
            w.Line("    def forward(self, x):");
            for (int i = 0; i < program.Steps.Count; i++)
            {
                var step = program.Steps[i];
                w.Line(i == program.Steps.Count - 1 ? $"        return {Python(step.Value, false)}" : $"        {step.Target} = {Python(step.Value, false)}");
            }
            w.Line();
            w.Line();
        }

        /// <summary>The PyTorch primitive of each block-program operation; <paramref name="operand"/>: the value is an operand
        /// of <c>*</c> (a sum gets parentheses).</summary>
        internal static string Python(BlockExpr e, bool operand) => e switch
        {
            ValueRef v => v.Name,
            NormOf n => $"self.{n.Weight}({Python(n.Input, false)}{(n.Scaled ? ", self.s" : "")})",
            Branch b => $"self.{(b.Kind == BranchKind.Attention ? "self_attn" : "mlp")}({Python(b.Input, false)})",
            Gain g => $"{Python(g.Input, true)} * self.{g.Parameter}",
            HyperMix m => $"self.{m.Connection}({m.Streams})",
            HyperRead r => $"hyper_read({r.Streams}, {r.Mix})",
            HyperWrite hw => $"hyper_write({hw.Streams}, {hw.Mix}, {Python(hw.Branch, false)})",
            Times t => $"{Py(t.Factor)} * {Python(t.Input, true)}",
            Residual r when r.Scale == SkipScale.Alpha => $"torch.add({Python(r.Branch, false)}, {r.Skip}, alpha=self.alpha)",
            Residual r => operand ? $"({r.Skip} + {Python(r.Branch, true)})" : $"{r.Skip} + {Python(r.Branch, true)}",
            _ => throw new ArgumentOutOfRangeException(nameof(e), e, "a block operation without a PyTorch primitive"),
        };

        private static void WriteModel(PyWriter w, ModelSpec s)
        {
            w.Line("BLOCK_TYPES = {" + string.Join(", ", Programs(s).Select(p => $"\"{p.Name}\": {BlockClass(p)}")) + "}");
            w.Line();
            w.Line();
            w.Line("class Model(nn.Module):");
            w.Line($"    \"\"\"{s.Name}: tokens [B, T] (int64) -> logits [B, T, Vocab]. config: the parsed config.json (LnsDsl's ModelSpec).\"\"\"");
            w.Line();
            w.Line("    def __init__(self, config):");
            w.Line("        super().__init__()");
            w.Line("        if len(config[\"Blocks\"]) != len(BLOCKS):");
            w.Line("            raise ValueError(f\"config.json has {len(config['Blocks'])} blocks, this model.py {len(BLOCKS)}\")");
            w.Line("        self.config = config");
            w.Line("        hidden, vocab, eps = config[\"Hidden\"], config[\"Vocab\"], config[\"Eps\"]");
            w.Line("        self.embed_tokens = nn.Embedding(vocab, STREAM)");
            if (s.EmbeddingNorm) w.Line($"        self.embed_norm = Norm(hidden, eps{NormAlpha(s, "TanhAlphaFinal")})" + (s.Norm == Kind.Peri ? "  # Peri-LN normalises the embedding output" : ""));
            if (s.Rope)
            {
                w.Line("        rope = Rope(config)");
                w.Line("        self.layers = nn.ModuleList([BLOCK_TYPES[p](config, s, alpha, rope) for p, s, alpha in BLOCKS])");
            }
            else
            {
                w.Line("        self.layers = nn.ModuleList([BLOCK_TYPES[p](config, s, alpha) for p, s, alpha in BLOCKS])");
            }
            w.Line($"        self.norm = Norm(hidden, eps{NormAlpha(s, "TanhAlphaFinal")})  # never depth-scaled");
            if (!s.TieEmbeddings) w.Line("        self.lm_head = nn.Linear(hidden, vocab, bias=False)");
            w.Line();
            w.Line("    def forward(self, tokens):");
            w.Line("        if tokens.shape[1] > self.config[\"MaxSeq\"]:");
            w.Line("            raise ValueError(f\"sequence length {tokens.shape[1]} exceeds MaxSeq {self.config['MaxSeq']}\")");
            w.Line("        x = self.embed_tokens(tokens)");
            if (s.ScaleEmbeddings)
                w.Line("        x = x * torch.tensor(math.sqrt(self.config[\"Hidden\"]), dtype=x.dtype, device=x.device)  # times sqrt(Hidden), rounded to x's dtype (Gemma)");
            if (s.EmbeddingNorm) w.Line("        x = self.embed_norm(x)");
            if (s.HyperStreams > 0) w.Line("        x = x.unsqueeze(-2).expand(*x.shape[:-1], self.config[\"HyperStreams\"], x.shape[-1]).contiguous()  # the residual streams [B, T, n, Hidden]");
            w.Line("        for layer in self.layers:  # block l = i + 1, each with its factors from BLOCKS");
            w.Line("            x = layer(x)");
            if (s.HyperStreams > 0) w.Line("        x = x.sum(-2)  # the streams summed: the stream the head reads");
            w.Line("        x = self.norm(x)");
            w.Line(s.TieEmbeddings ? "        logits = F.linear(x, self.embed_tokens.weight)  # output head tied to the embedding" : "        logits = self.lm_head(x)");
            if (s.LogitSoftCap > 0)
                w.Line($"        logits = torch.tanh(logits / {Py(s.LogitSoftCap)}) * {Py(s.LogitSoftCap)}  # final logit soft-cap (LogitSoftCap)");
            w.Line("        return logits");
            w.Line();
            w.Line();
        }

        private const string HyperConnectionCode = """"
class HyperConnection(nn.Module):
    """Hyper-connections (mHC; LnsDsl's Fused.HyperMix): the coefficients per token from the streams x [B, T, n, C],
    RMS-normalised as one n*C vector (no gain): z = x~ phi, H_pre = sigmoid(alpha_pre z_pre + b_pre), H_post =
    2 sigmoid(alpha_post z_post + b_post), H_res = Sinkhorn(exp(alpha_res z_res + b_res)) with HyperManifold (20 rounds
    of column then row normalisation: doubly stochastic), else alpha_res z_res + b_res. Returns [B, T, n (n + 2)]."""

    def __init__(self, config):
        super().__init__()
        n, hidden = config["HyperStreams"], config["Hidden"]
        self.n, self.manifold, self.eps = n, bool(config["HyperManifold"]), config["Eps"]
        # LnsDsl's initialisation (HyperConnectionWeights): phi 0, gates 0.01, H_pre 1/n, H_post 1, H_res about the identity.
        self.phi = nn.Parameter(torch.zeros(n * hidden, n * (n + 2)))
        bias = torch.zeros(n * (n + 2))
        bias[:n] = -math.log(n - 1)
        bias[2 * n:] = (torch.full((n, n), -4.0).fill_diagonal_(0.0) if self.manifold else torch.eye(n)).flatten()
        self.bias = nn.Parameter(bias)
        self.alpha = nn.Parameter(torch.full((3,), 0.01))

    def forward(self, x):
        b, t, n, c = x.shape
        flat = x.reshape(b, t, n * c)
        if flat.dtype not in (torch.float32, torch.float64):
            flat = flat.float()
        normed = flat * torch.rsqrt(flat.pow(2).mean(-1, keepdim=True) + self.eps)
        z = normed @ self.phi.to(normed.dtype)
        alpha, bias = self.alpha.to(normed.dtype), self.bias.to(normed.dtype)
        pre = torch.sigmoid(z[..., :n] * alpha[0] + bias[:n])
        post = 2.0 * torch.sigmoid(z[..., n:2 * n] * alpha[1] + bias[n:2 * n])
        res = (z[..., 2 * n:] * alpha[2] + bias[2 * n:]).view(b, t, n, n)
        if self.manifold:
            res = res.exp()
            for _ in range(20):
                res = res / res.sum(-2, keepdim=True)  # columns
                res = res / res.sum(-1, keepdim=True)  # rows
        return torch.cat([pre, post, res.reshape(b, t, n * n)], -1)


def hyper_read(x, mix):
    """The branch input H_pre X: the streams [B, T, n, C] weighted and summed."""
    n = x.shape[-2]
    return (x * mix[..., :n].to(x.dtype).unsqueeze(-1)).sum(-2)


def hyper_write(x, mix, f):
    """The residual add H_res X + H_post^T f over the streams."""
    b, t, n, _ = x.shape
    post = mix[..., n:2 * n].to(x.dtype)
    res = mix[..., 2 * n:].to(x.dtype).view(b, t, n, n)
    return res @ x + post.unsqueeze(-1) * f.unsqueeze(-2)
"""";

        private const string LoadCode = """"
def load(directory):
    """The model of an export directory: built from config.json, model.safetensors loaded (strict), in the stored dtype, in eval mode."""
    with open(os.path.join(directory, "config.json"), encoding="utf-8") as f:
        config = json.load(f)
    tensors = read_safetensors(os.path.join(directory, "model.safetensors"))
    model = Model(config)
    floating = [t.dtype for t in tensors.values() if t.is_floating_point()]
    if floating:
        model = model.to(floating[0])
    model.load_state_dict(tensors, strict=True)
    return model.eval()
"""";

        /// <summary>Lines with <c>\n</c> endings.</summary>
        private sealed class PyWriter
        {
            private readonly StringBuilder _sb = new();
            public void Line(string text = "") => _sb.Append(text).Append('\n');
            /// <summary>A top-level section, followed by two blank lines.</summary>
            public void Raw(string text) => _sb.Append(text.Replace("\r\n", "\n").TrimEnd('\n')).Append("\n\n\n");
            public override string ToString() => _sb.ToString();
        }
    }
}
