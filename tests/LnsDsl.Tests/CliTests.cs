using System;
using System.IO;
using System.Linq;
using System.Text.Json;
using Xunit;

namespace LnsDsl.Tests
{
    /// <summary>lnsrun end to end through its entry point, on a tiny generated model and a small text.</summary>
    public sealed class CliTests : IDisposable
    {
        private readonly string _dir = Path.Combine(Path.GetTempPath(), "lnsdsl-cli-" + Guid.NewGuid().ToString("N"));

        public CliTests() => Directory.CreateDirectory(_dir);

        public void Dispose() => Directory.Delete(_dir, recursive: true);

        private string Text()
        {
            string path = Path.Combine(_dir, "text.txt");
            File.WriteAllText(path, string.Concat(Enumerable.Repeat("deep layers should not collapse to identity maps. ", 60)));
            return path;
        }

        [Fact]
        public void Train_runs_a_generated_model_and_writes_a_checkpoint()
        {
            string run = Path.Combine(_dir, "run");
            int code = LnsDsl.Cli.Program.Main(new[] { "train", "TinyByteLns", "--data", Text(), "--steps", "30", "--batch", "4", "--seq", "32", "--warmup", "3", "--lr", "3e-3", "--out", run });
            Assert.Equal(0, code);
            Assert.True(new FileInfo(Path.Combine(run, "model.ckpt")).Length > 0);
            Assert.False(File.Exists(Path.Combine(run, "model.ckpt.tmp")));
            Assert.Equal(30, File.ReadAllLines(Path.Combine(run, "metrics.jsonl")).Length);
            using var summary = JsonDocument.Parse(File.ReadAllText(Path.Combine(run, "summary.json")));
            double first = summary.RootElement.GetProperty("first_loss").GetDouble();
            double validation = summary.RootElement.GetProperty("validation_loss").GetDouble();
            Assert.True(double.IsFinite(validation));
            Assert.True(validation < first, $"validation loss {validation} is not below the first training loss {first}");
            Assert.True(validation < Math.Log(257), "no better than uniform over the byte vocabulary");
        }

        [Theory]
        [InlineData("train", "NoSuchModel")]
        [InlineData("train", "TinyByteLns", "--data", "/definitely/not/here.txt")]
        [InlineData("train", "TinyByteLns", "--warmup", "500", "--steps", "10")]
        [InlineData("describe", "Lns12x265")]
        public void Bad_input_exits_with_code_2(params string[] args)
        {
            Assert.Equal(2, LnsDsl.Cli.Program.Main(args));
        }
    }
}

namespace LnsDsl.Tests.Models
{
    /// <summary>Big enough for the byte-level tokenizer (257 ids).</summary>
    [TransformerModel(Layers = 2, Hidden = 32, Heads = 2, FeedForward = 64, Vocab = 257)]
    [Norm(Kind.Pre, Scale = ScaleRule.InvSqrtDepth)]
    public partial class TinyByteLns { }
}
