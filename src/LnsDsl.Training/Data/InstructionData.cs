using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text;
using System.Text.Json;
using static TorchSharp.torch;

namespace LnsDsl.Data
{
    /// <summary>One supervised fine-tuning example: the text the model reads and the text it must learn to write.</summary>
    /// <param name="Line">The 1-based line of the JSON-lines file it came from.</param>
    /// <param name="Turns">The conversation as (prompt, response) pairs, in order; the loss is on the responses only.</param>
    public sealed record InstructionExample(int Line, IReadOnlyList<(string Prompt, string Response)> Turns);

    /// <summary>
    /// Instruction data for supervised fine-tuning, from JSON lines in one of three layouts, recognised per line:
    /// <c>{"prompt", "response"}</c>; chat <c>{"messages": [{"role", "content"}, ...]}</c> (roles system, user,
    /// assistant; every assistant message is a response, everything before it the prompt); Alpaca
    /// <c>{"instruction", "input", "output"}</c> (<c>input</c> optional). Rendered with one plain template:
    /// <code>
    /// User: {prompt}\n
    /// Assistant: {response}&lt;end-of-text&gt;
    /// </code>
    /// where a system message becomes <c>System: {content}\n</c> before the first user turn, an Alpaca input follows
    /// the instruction after a blank line, and further turns repeat <c>User: ...\nAssistant: ...&lt;end-of-text&gt;</c>.
    /// The targets of prompt tokens are <see cref="Batches.Ignore"/>: the loss is on response tokens (and each
    /// response's end-of-text) only.
    /// </summary>
    public static class InstructionData
    {
        /// <summary>What precedes every response in the template.</summary>
        private const string Cue = "Assistant:";

        /// <summary>One turn of the template: <c>{Role}: {content}\n</c>.</summary>
        private static string Turn(string role, string content) => $"{role}: {content}\n";

        /// <summary>A response as the template writes it after <see cref="Cue"/> (a space first).</summary>
        private static string ResponseText(string response) => " " + response;

        /// <summary>
        /// The text a single-turn example's response follows, exactly as fine-tuning renders it:
        /// <c>User: {prompt}\nAssistant:</c>. A task item in LnsDsl's <c>plain</c> layout with this context (its choices
        /// get the template's leading space) scores responses the way fine-tuning trained them.
        /// </summary>
        public static string PromptContext(string prompt) => Turn("User", prompt) + Cue;

        /// <summary>Reads every example of a JSON-lines file; a bad line is reported with its number.</summary>
        public static IReadOnlyList<InstructionExample> Read(string path)
        {
            if (!File.Exists(path)) throw new UserError($"instruction data '{path}' does not exist; give a .jsonl file of {{\"prompt\", \"response\"}}, {{\"messages\": [...]}} or {{\"instruction\", \"input\", \"output\"}} lines");
            var examples = new List<InstructionExample>();
            int number = 0;
            foreach (var line in File.ReadLines(path))
            {
                number++;
                if (string.IsNullOrWhiteSpace(line)) continue;
                examples.Add(Parse(line, path, number));
            }
            if (examples.Count == 0) throw new UserError($"'{path}' holds no examples");
            return examples;
        }

        /// <summary>One line as an example (<paramref name="path"/> and <paramref name="number"/> name it in errors).</summary>
        public static InstructionExample Parse(string line, string path, int number)
        {
            UserError Bad(string why) => new($"'{path}' line {number}: {why}");
            JsonDocument doc;
            try { doc = JsonDocument.Parse(line); }
            catch (JsonException e) { throw Bad($"not valid JSON ({e.Message})"); }
            using (doc)
            {
                var root = doc.RootElement;
                if (root.ValueKind != JsonValueKind.Object) throw Bad("not a JSON object");
                string? Text(JsonElement e, string name)
                    => e.TryGetProperty(name, out var v) ? v.ValueKind == JsonValueKind.String ? v.GetString() : v.ValueKind == JsonValueKind.Null ? null : throw Bad($"field \"{name}\" is not a string") : null;
                string Required(string? value, string name)
                {
                    if (value is null) throw Bad($"field \"{name}\" is missing");
                    return value;
                }
                string NonEmptyResponse(string? value, string name)
                {
                    if (string.IsNullOrWhiteSpace(Required(value, name))) throw Bad($"the response (\"{name}\") is empty");
                    return value!;
                }
                if (root.TryGetProperty("messages", out var messages))
                {
                    if (messages.ValueKind != JsonValueKind.Array) throw Bad("field \"messages\" is not an array");
                    var turns = new List<(string, string)>();
                    var prompt = new StringBuilder();
                    foreach (var m in messages.EnumerateArray())
                    {
                        if (m.ValueKind != JsonValueKind.Object) throw Bad("a message is not an object");
                        string role = Required(Text(m, "role"), "role"), content = Required(Text(m, "content"), "content");
                        switch (role)
                        {
                            case "system": prompt.Append(Turn("System", content)); break;
                            case "user": prompt.Append(Turn("User", content)); break;
                            case "assistant":
                                if (string.IsNullOrWhiteSpace(content)) throw Bad("an assistant message is empty");
                                turns.Add((prompt.ToString(), content));
                                prompt.Clear();
                                break;
                            default: throw Bad($"role \"{role}\" is not system, user or assistant");
                        }
                    }
                    if (turns.Count == 0) throw Bad("the conversation has no assistant message to learn");
                    return new InstructionExample(number, turns);
                }
                if (root.TryGetProperty("instruction", out _))
                {
                    string instruction = Required(Text(root, "instruction"), "instruction");
                    string? input = Text(root, "input");
                    string user = string.IsNullOrEmpty(input) ? instruction : instruction + "\n\n" + input;
                    return new InstructionExample(number, new[] { (Turn("User", user), NonEmptyResponse(Text(root, "output"), "output")) });
                }
                if (root.TryGetProperty("prompt", out _))
                    return new InstructionExample(number, new[] { (Turn("User", Required(Text(root, "prompt"), "prompt")), NonEmptyResponse(Text(root, "response"), "response")) });
                throw Bad("none of the layouts: give \"prompt\" and \"response\", \"messages\", or \"instruction\" and \"output\"");
            }
        }

        /// <summary>The tokens of an example and each token's training target: the next token where it is part of a
        /// response (or a response's end-of-text), <see cref="Batches.Ignore"/> elsewhere.</summary>
        public static (long[] Tokens, long[] Targets) Encode(InstructionExample example, ITextTokenizer tokenizer)
        {
            var tokens = new List<long>();
            var learn = new List<bool>(); // whether the token is to be predicted (a response token)
            foreach (var (prompt, response) in example.Turns)
            {
                foreach (var t in tokenizer.Encode(prompt + Cue)) { tokens.Add(t); learn.Add(false); }
                foreach (var t in tokenizer.Encode(ResponseText(response))) { tokens.Add(t); learn.Add(true); }
                tokens.Add(tokenizer.EndOfText);
                learn.Add(true);
            }
            var targets = new long[tokens.Count];
            for (int i = 0; i < tokens.Count; i++)
                targets[i] = i + 1 < tokens.Count && learn[i + 1] ? tokens[i + 1] : Batches.Ignore;
            return (tokens.ToArray(), targets);
        }

        /// <summary>
        /// A batch of examples, one per sequence: cut to <paramref name="seq"/> tokens (<paramref name="truncated"/>
        /// counts those that did not fit) or padded with end-of-text whose targets are ignored.
        /// </summary>
        public static (Tensor Input, Tensor Target) Batch(IReadOnlyList<(long[] Tokens, long[] Targets)> encoded, int seq, int endOfText, out int truncated)
        {
            var x = new long[encoded.Count * seq];
            var y = new long[encoded.Count * seq];
            truncated = 0;
            for (int b = 0; b < encoded.Count; b++)
            {
                var (tokens, targets) = encoded[b];
                if (tokens.Length > seq) truncated++;
                for (int i = 0; i < seq; i++)
                {
                    x[b * seq + i] = i < tokens.Length ? tokens[i] : endOfText;
                    y[b * seq + i] = i < tokens.Length ? targets[i] : Batches.Ignore;
                }
            }
            return (tensor(x).reshape(encoded.Count, seq), tensor(y).reshape(encoded.Count, seq));
        }

        /// <summary>The held-out split, as the corpora's: every 20th example (index 19, 39, ...) with 20 or more, else none.</summary>
        public static (IReadOnlyList<InstructionExample> Train, IReadOnlyList<InstructionExample> Valid) Split(IReadOnlyList<InstructionExample> examples)
            => examples.Count >= HeldOut.Every
                ? (examples.Where((_, i) => !HeldOut.Is(i)).ToList(), examples.Where((_, i) => HeldOut.Is(i)).ToList())
                : (examples, Array.Empty<InstructionExample>());
    }
}
