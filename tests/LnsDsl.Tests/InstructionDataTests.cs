using System;
using System.IO;
using System.Linq;
using LnsDsl.Data;
using LnsDsl.Evaluation;
using LnsDsl.Tests.Models;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace LnsDsl.Tests
{
    /// <summary>Instruction data for fine-tuning: the three layouts, the template, the loss mask, and bad lines named.</summary>
    public sealed class InstructionDataTests : IDisposable
    {
        private readonly string _dir = Path.Combine(Path.GetTempPath(), "lnsdsl-sft-" + Guid.NewGuid().ToString("N"));
        private readonly ITextTokenizer _bytes = new ByteTokenizer();

        public InstructionDataTests() => Directory.CreateDirectory(_dir);

        public void Dispose() => Directory.Delete(_dir, recursive: true);

        private string Text(InstructionExample e)
            => string.Concat(e.Turns.Select(t => t.Prompt + "Assistant: " + t.Response + "<eot>"));

        [Fact]
        public void The_three_layouts_render_with_the_documented_template()
        {
            string file = Path.Combine(_dir, "mixed.jsonl");
            File.WriteAllLines(file, new[]
            {
                "{\"prompt\": \"Add 2 and 3.\", \"response\": \"5\"}",
                "",
                "{\"instruction\": \"Translate.\", \"input\": \"chat\", \"output\": \"cat\"}",
                "{\"instruction\": \"Say hi.\", \"output\": \"hi\"}",
                "{\"messages\": [{\"role\": \"system\", \"content\": \"Be brief.\"}, {\"role\": \"user\", \"content\": \"Hi\"}, {\"role\": \"assistant\", \"content\": \"Hello\"}, {\"role\": \"user\", \"content\": \"Bye\"}, {\"role\": \"assistant\", \"content\": \"Bye\"}]}",
            });
            var examples = InstructionData.Read(file);
            Assert.Equal(new[] { 1, 3, 4, 5 }, examples.Select(e => e.Line));
            Assert.Equal("User: Add 2 and 3.\nAssistant: 5<eot>", Text(examples[0]));
            Assert.Equal("User: Translate.\n\nchat\nAssistant: cat<eot>", Text(examples[1]));
            Assert.Equal("User: Say hi.\nAssistant: hi<eot>", Text(examples[2]));
            Assert.Equal("System: Be brief.\nUser: Hi\nAssistant: Hello<eot>User: Bye\nAssistant: Bye<eot>", Text(examples[3]));
        }

        [Theory]
        [InlineData("{\"prompt\": \"x\"}", "line 2: field \"response\" is missing")]
        [InlineData("{\"prompt\": \"x\", \"response\": \"  \"}", "line 2: the response (\"response\") is empty")]
        [InlineData("{\"instruction\": \"x\", \"output\": 3}", "line 2: field \"output\" is not a string")]
        [InlineData("{\"messages\": [{\"role\": \"user\", \"content\": \"x\"}]}", "line 2: the conversation has no assistant message")]
        [InlineData("{\"messages\": [{\"role\": \"robot\", \"content\": \"x\"}]}", "line 2: role \"robot\"")]
        [InlineData("{\"text\": \"x\"}", "line 2: none of the layouts")]
        [InlineData("{not json", "line 2: not valid JSON")]
        public void A_bad_line_is_reported_with_its_number(string bad, string message)
        {
            string file = Path.Combine(_dir, "bad.jsonl");
            File.WriteAllLines(file, new[] { "{\"prompt\": \"ok\", \"response\": \"fine\"}", bad });
            Assert.Contains(message, Assert.ThrowsAny<UserError>(() => InstructionData.Read(file)).Message);
        }

        [Fact]
        public void The_loss_is_on_response_tokens_only()
        {
            var example = InstructionData.Parse("{\"prompt\": \"What is two?\", \"response\": \"2\"}", "x.jsonl", 1);
            var (tokens, targets) = InstructionData.Encode(example, _bytes);
            int prompt = _bytes.Encode("User: What is two?\nAssistant:").Length;
            // Positions whose next token belongs to the prompt are ignored; the rest predict " 2" then end-of-text.
            Assert.All(targets.Take(prompt - 1), t => Assert.Equal(Batches.Ignore, t));
            Assert.Equal(_bytes.Encode(" 2").Select(t => (long)t).Append(_bytes.EndOfText), targets.Skip(prompt - 1).Take(3));
            Assert.Equal(Batches.Ignore, targets[^1]);

            // With a model: the batch's loss is the mean over the three response positions, computed by hand.
            using var model = new TinyByteLns(3);
            var (x, y) = InstructionData.Batch(new[] { (tokens, targets) }, 32, _bytes.EndOfText, out int truncated);
            Assert.Equal(0, truncated);
            using var noGrad = no_grad();
            var logits = model.forward(x);
            double loss = Losses.CrossEntropy(logits, y, 257).item<float>();
            var logp = logits.log_softmax(-1)[0];
            double byHand = 0;
            int positions = 0;
            for (int i = 0; i < 32; i++)
                if (y[0, i].item<long>() != Batches.Ignore) { byHand -= logp[i, y[0, i].item<long>()].item<float>(); positions++; }
            Assert.Equal(3, positions);
            Assert.Equal(byHand / positions, loss, 5);

            InstructionData.Batch(new[] { (tokens, targets) }, 8, _bytes.EndOfText, out int cutCount);
            Assert.Equal(1, cutCount); // the example did not fit in 8 tokens: counted
        }
    }
}
