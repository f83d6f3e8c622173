using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Security.Cryptography;
using System.Text;
using LnsDsl.Data;
using LnsDsl.Evaluation;
using LnsDsl.Runs;
using static TorchSharp.torch;

namespace LnsDsl.Training
{
    /// <summary>What the training loop reads: training batches, the fixed validation batches, and what to record of the data.</summary>
    public interface ITrainingData : IDisposable
    {
        ITextTokenizer Tokenizer { get; }

        /// <summary>What a checkpoint records of the data (compared field by field on resume).</summary>
        DataIdentity Identity { get; }

        /// <summary>The token cache directory, or "" where there is none.</summary>
        string CacheDirectory { get; }

        /// <summary>One line for the run's log.</summary>
        string Summary { get; }

        /// <summary>A training batch of <paramref name="batch"/> sequences of <paramref name="seq"/> tokens, drawn with <paramref name="random"/>.</summary>
        (Tensor Input, Tensor Target) Sample(int batch, int seq, Random random);

        /// <summary>The mean next-token loss over the first <paramref name="batches"/> fixed validation batches.</summary>
        double Evaluate(TransformerModule model, int batches, int batch, int seq, Device device);
    }

    /// <summary>Pre-training data: a tokenised corpus (<see cref="DataSet"/>), cut as <see cref="Packing"/> says.</summary>
    public sealed class CorpusTrainingData : ITrainingData
    {
        private readonly Packing _packing;

        public CorpusTrainingData(DataSet data, Packing packing)
        {
            Data = data;
            _packing = packing;
        }

        public DataSet Data { get; }
        public ITextTokenizer Tokenizer => Data.Tokenizer;
        public DataIdentity Identity => new(Data.Description, Data.CorpusFingerprint, Data.Tokenizer.Name, Data.Tokenizer.VocabSize, Data.Key);
        public string CacheDirectory => Data.Directory;

        public string Summary => string.Format(CultureInfo.InvariantCulture, "{0}; {1:N0} training tokens in {2} documents, {3:N0} validation tokens in {4}; tokenizer {5}",
            Data.Description, Data.Train.Count, Data.Train.Documents, Data.Valid.Count, Data.Valid.Documents, Data.Tokenizer.Name);

        public (Tensor Input, Tensor Target) Sample(int batch, int seq, Random random)
            => Batches.Sample(Data.Train, _packing, batch, seq, Data.Tokenizer.EndOfText, random);

        public double Evaluate(TransformerModule model, int batches, int batch, int seq, Device device)
            => Losses.Evaluate(model, Data.Valid, _packing, batches, batch, seq, Data.Tokenizer.EndOfText, device);

        public void Dispose() => Data.Dispose();
    }

    /// <summary>
    /// Fine-tuning data: instruction examples (<see cref="InstructionData"/>), one per sequence, the loss on response
    /// tokens only; every 20th example held out (with 20 or more). Sequences that do not fit are cut and counted.
    /// </summary>
    public sealed class InstructionTrainingData : ITrainingData
    {
        private readonly IReadOnlyList<(long[] Tokens, long[] Targets)> _train, _valid;
        private readonly string _path, _fingerprint;

        public InstructionTrainingData(string path, ITextTokenizer tokenizer, int seq)
        {
            var examples = InstructionData.Read(path);
            var (train, valid) = InstructionData.Split(examples);
            _train = train.Select(e => InstructionData.Encode(e, tokenizer)).ToList();
            _valid = valid.Select(e => InstructionData.Encode(e, tokenizer)).ToList();
            Tokenizer = tokenizer;
            _path = Path.GetFullPath(path);
            using (var stream = File.OpenRead(path)) _fingerprint = Convert.ToHexString(SHA256.HashData(stream)).ToLowerInvariant();
            Examples = examples.Count;
            Truncated = _train.Concat(_valid).Count(e => e.Tokens.Length > seq);
        }

        public ITextTokenizer Tokenizer { get; }
        public int Examples { get; }
        /// <summary>Examples longer than the sequence length (cut: their last tokens are not learned).</summary>
        public int Truncated { get; }
        public DataIdentity Identity => new(_path, _fingerprint, Tokenizer.Name, Tokenizer.VocabSize, "instructions:" + _fingerprint[..16]);
        public string CacheDirectory => "";

        public string Summary => string.Format(CultureInfo.InvariantCulture, "{0}: {1} instruction examples, {2} for training, {3} held out; {4} longer than the sequence (cut); tokenizer {5}",
            _path, Examples, _train.Count, _valid.Count, Truncated, Tokenizer.Name);

        public (Tensor Input, Tensor Target) Sample(int batch, int seq, Random random)
        {
            var rows = new List<(long[], long[])>(batch);
            for (int b = 0; b < batch; b++) rows.Add(_train[random.Next(_train.Count)]);
            return InstructionData.Batch(rows, seq, Tokenizer.EndOfText, out _);
        }

        public double Evaluate(TransformerModule model, int batches, int batch, int seq, Device device)
        {
            var items = _valid.Count > 0 ? _valid : _train; // no held-out examples (under 20): the training loss, said in Summary
            int n = Math.Min(batches, (items.Count + batch - 1) / batch);
            return Losses.Evaluate(model, n, i => InstructionData.Batch(items.Skip(i * batch).Take(batch).ToList(), seq, Tokenizer.EndOfText, out _), device);
        }

        public void Dispose() { }
    }
}
