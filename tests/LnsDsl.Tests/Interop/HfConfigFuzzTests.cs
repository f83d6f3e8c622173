using System;
using System.Collections.Generic;
using System.Linq;
using System.Text;
using System.Text.Json.Nodes;
using LnsDsl.Interop;
using Xunit;
using Xunit.Abstractions;

namespace LnsDsl.Tests
{
    /// <summary>config.json is a file from elsewhere: thousands of mutated configs are read, and every one either gives a
    /// config and a declaration or a <see cref="UserError"/> naming the file; nothing else escapes.</summary>
    public sealed class HfConfigFuzzTests
    {
        private readonly ITestOutputHelper _output;

        public HfConfigFuzzTests(ITestOutputHelper output) => _output = output;

        private static readonly string[] Values = { "null", "true", "-1", "0", "1e308", "\"x\"", "[]", "{}", "2147483648", "3.5", "\"silu\"", "{\"rope_type\": \"llama3\"}" };

        [Fact]
        public void Mutated_configs_are_read_or_refused_with_a_user_error()
        {
            var random = new Random(11);
            var seeds = new[] { "llama", "mistral", "qwen2", "qwen3", "gemma2", "olmo2" }.Select(f => HfCheckpoints.Config(f)).ToList();
            seeds.Add(HfCheckpoints.Config("llama", c => c["rope_scaling"] = new JsonObject { ["rope_type"] = "llama3", ["factor"] = 8.0, ["low_freq_factor"] = 1.0, ["high_freq_factor"] = 4.0, ["original_max_position_embeddings"] = 8192 }));
            int read = 0, refused = 0;
            var problems = new Dictionary<string, int>();
            for (int i = 0; i < 4000; i++)
            {
                var config = (JsonObject)seeds[random.Next(seeds.Count)].DeepClone();
                string text;
                switch (random.Next(4))
                {
                    case 0: // a field set to another kind of value
                    {
                        var keys = config.Select(kv => kv.Key).ToList();
                        config[keys[random.Next(keys.Count)]] = JsonNode.Parse(Values[random.Next(Values.Length)]);
                        text = config.ToJsonString();
                        break;
                    }
                    case 1: // a field removed
                    {
                        var keys = config.Select(kv => kv.Key).ToList();
                        config.Remove(keys[random.Next(keys.Count)]);
                        text = config.ToJsonString();
                        break;
                    }
                    case 2: // bytes flipped
                    {
                        var bytes = Encoding.UTF8.GetBytes(config.ToJsonString());
                        for (int k = random.Next(1, 4); k > 0; k--) bytes[random.Next(bytes.Length)] = (byte)random.Next(32, 127);
                        text = Encoding.UTF8.GetString(bytes);
                        break;
                    }
                    default: // truncated
                    {
                        string whole = config.ToJsonString();
                        text = whole[..random.Next(whole.Length)];
                        break;
                    }
                }
                try
                {
                    var parsed = HfConfig.Parse(text, "config.json");
                    Assert.Contains("[TransformerModel(", HfDeclaration.Source(parsed, "M"));
                    read++;
                }
                catch (UserError e)
                {
                    Assert.StartsWith("'config.json': ", e.Message);
                    refused++;
                    string key = e.Message.Length > 40 ? e.Message[..40] : e.Message;
                    problems[key] = problems.GetValueOrDefault(key) + 1;
                }
            }
            _output.WriteLine($"read {read}, refused {refused}");
            foreach (var (p, n) in problems.OrderByDescending(p => p.Value).Take(10)) _output.WriteLine($"  {n,5} {p}");
            Assert.True(read > 100 && refused > 1000);
        }
    }
}
