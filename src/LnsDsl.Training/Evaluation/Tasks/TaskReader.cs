using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace LnsDsl.Evaluation
{
    /// <summary>
    /// One multiple-choice item: the <see cref="Context"/> the model is conditioned on (lm-eval's <c>doc_to_text</c>),
    /// the <see cref="Choices"/> as the task gives them (lm-eval's <c>doc_to_choice</c>: the text WITHOUT the target
    /// delimiter), and the index of the right one. Each choice is scored as the continuation
    /// <see cref="Continuation"/> = <see cref="Delimiter"/> + choice; acc_norm divides by the choice's character count.
    /// </summary>
    public sealed record TaskItem(string Context, IReadOnlyList<string> Choices, int Gold)
    {
        /// <summary>lm-eval's <c>target_delimiter</c> (the default of every task this reader knows): between context and choice.</summary>
        public const string Delimiter = " ";

        /// <summary>The text scored after the context for choice <paramref name="i"/>: <see cref="Delimiter"/> + the choice.</summary>
        public string Continuation(int i) => Delimiter + Choices[i];

        /// <summary>The length acc_norm divides by: the choice's character count as Python's <c>len</c> counts it (Unicode
        /// code points, not UTF-16 units or bytes), without the delimiter.</summary>
        public int NormLength(int i)
        {
            int n = 0;
            foreach (var _ in Choices[i].EnumerateRunes()) n++;
            return n;
        }
    }

    /// <summary>A task file read: its name (the file name without extension), its layout and its items, in file order.</summary>
    public sealed record TaskSet(string Name, string Path, string Format, IReadOnlyList<TaskItem> Items);

    /// <summary>
    /// Reads multiple-choice task files in the public JSON-lines layouts (one JSON object a line; blank lines
    /// skipped) and builds lm-evaluation-harness's prompts. The layout is recognised from the first item's fields,
    /// or forced with a format name (<see cref="Formats"/>); every line of a file has the file's layout.
    /// <list type="bullet">
    /// <item><c>arc</c> (ARC-Easy / ARC-Challenge): AI2 <c>{"id", "question": {"stem", "choices": [{"text", "label"}]}, "answerKey"}</c>
    /// or Hugging Face <c>{"question", "choices": {"text": [...], "label": [...]}, "answerKey"}</c>;
    /// context <c>"Question: {question}\nAnswer:"</c>, continuations <c>" {choice text}"</c>, gold the choice whose label is answerKey.</item>
    /// <item><c>piqa</c>: <c>{"goal", "sol1", "sol2", "label"}</c>; context <c>"Question: {goal}\nAnswer:"</c>, continuations <c>" {sol1}"</c>, <c>" {sol2}"</c>, gold label (0/1).</item>
    /// <item><c>hellaswag</c>: <c>{"activity_label", "ctx_a", "ctx_b", "endings": [...], "label"}</c> (or <c>"ctx"</c> instead of ctx_a/ctx_b;
    /// label a number or a string of one); context <c>preprocess("{activity_label}: {ctx_a} {Capitalize(ctx_b)}")</c>
    /// (without <c>"{activity_label}: "</c> when there is none), continuations <c>" " + preprocess(ending)</c>, where
    /// preprocess trims, replaces <c>" [title]"</c> with <c>". "</c>, removes every <c>[...]</c> marker (e.g. <c>[header]</c>,
    /// <c>[step]</c>), and replaces double spaces with single ones, and Capitalize is Python's str.capitalize (the
    /// first character upper case, the rest lower case).</item>
    /// <item><c>boolq</c>: <c>{"question", "passage", "answer": true|false}</c> (or <c>"label": 0|1</c>); context
    /// <c>"{passage}\nQuestion: {question}?\nAnswer:"</c>, continuations <c>" no"</c>, <c>" yes"</c>, gold 1 when the answer is true.</item>
    /// <item><c>mmlu</c>: <c>{"question", "choices": [...], "answer": index or letter, "subject"}</c>; context
    /// <c>"{question (trimmed)}\nA. {c0}\nB. {c1}\nC. {c2}\nD. {c3}\nAnswer:"</c> (one line per choice), continuations
    /// <c>" A"</c>, <c>" B"</c>, <c>" C"</c>, <c>" D"</c>.</item>
    /// </list>
    /// A line that is not JSON, lacks a field, has a field of the wrong type, no choices or a gold answer out of
    /// range is a <see cref="UserError"/> naming the file and the line number.
    /// </summary>
    public static class TaskReader
    {
        /// <summary>The format names <see cref="Read"/> accepts.</summary>
        public static readonly IReadOnlyList<string> Formats = new[] { "arc", "piqa", "hellaswag", "boolq", "mmlu", "plain" };

        /// <summary>Reads <paramref name="path"/> (null or empty <paramref name="format"/>: recognised from the fields).</summary>
        public static TaskSet Read(string path, string? format = null)
        {
            if (!File.Exists(path)) throw new UserError($"task file {path} does not exist");
            var items = Parse(File.ReadLines(path), Path.GetFileName(path), format, out string recognised);
            return new TaskSet(System.IO.Path.GetFileNameWithoutExtension(path), path, recognised, items);
        }

        /// <summary>Parses JSON lines; <paramref name="file"/> names the source in errors.</summary>
        public static IReadOnlyList<TaskItem> Parse(IEnumerable<string> lines, string file, string? format, out string recognised)
        {
            if (!string.IsNullOrEmpty(format) && !Formats.Contains(format))
                throw new SettingError($"{{TaskFormat}} must be one of {string.Join(", ", Formats)} (or empty: recognised from the fields), not '{format}'");
            string? layout = string.IsNullOrEmpty(format) ? null : format;
            var items = new List<TaskItem>();
            int number = 0;
            foreach (var line in lines)
            {
                number++;
                if (string.IsNullOrWhiteSpace(line)) continue;
                var at = new Where(file, number);
                JsonDocument document;
                try { document = JsonDocument.Parse(line); }
                catch (JsonException e) { throw at.Error($"not a JSON object ({e.Message})"); }
                catch (ArgumentException) { throw at.Error("not valid text"); } // lone surrogates
                using (document)
                {
                    var root = document.RootElement;
                    if (root.ValueKind != JsonValueKind.Object) throw at.Error($"not a JSON object but {Kind(root)}");
                    layout ??= Recognise(root) ?? throw at.Error("the layout is not one of " + string.Join(", ", Formats)
                        + " (fields: " + string.Join(", ", root.EnumerateObject().Select(p => p.Name)) + "); force one with a format name");
                    var item = layout switch
                    {
                        "arc" => Arc(root, at),
                        "piqa" => Piqa(root, at),
                        "hellaswag" => HellaSwag(root, at),
                        "boolq" => BoolQ(root, at),
                        "plain" => Plain(root, at),
                        _ => Mmlu(root, at),
                    };
                    if (item.Choices.Count == 0) throw at.Error("no choices");
                    if (item.Gold < 0 || item.Gold >= item.Choices.Count) throw at.Error($"the gold answer {item.Gold} is out of range (0..{item.Choices.Count - 1})");
                    items.Add(item);
                }
            }
            if (items.Count == 0) throw new UserError($"{file}: no items");
            recognised = layout!;
            return items;
        }

        /// <summary>The layout <paramref name="item"/>'s fields say, or null.</summary>
        public static string? Recognise(JsonElement item)
        {
            if (item.ValueKind != JsonValueKind.Object) return null;
            bool Has(string name) => item.TryGetProperty(name, out _);
            bool Is(string name, JsonValueKind kind) => item.TryGetProperty(name, out var v) && v.ValueKind == kind;
            if (Has("goal") && Has("sol1")) return "piqa";
            if (Has("endings")) return "hellaswag";
            if (Has("passage")) return "boolq";
            if (Is("question", JsonValueKind.Object) || Is("choices", JsonValueKind.Object) || Has("answerKey")) return "arc";
            if (Has("context") && Is("choices", JsonValueKind.Array)) return "plain";
            if (Is("choices", JsonValueKind.Array)) return "mmlu";
            return null;
        }

        private static TaskItem Arc(JsonElement root, Where at)
        {
            string question;
            List<string> texts, labels;
            var q = at.Field(root, "question");
            if (q.ValueKind == JsonValueKind.Object)
            {
                question = at.String(q, "stem", "question.stem");
                var choices = at.Array(q, "choices", "question.choices");
                texts = new List<string>();
                labels = new List<string>();
                foreach (var c in choices)
                {
                    if (c.ValueKind != JsonValueKind.Object) throw at.Error("question.choices must hold objects {\"text\", \"label\"}");
                    texts.Add(at.String(c, "text", "question.choices[].text"));
                    labels.Add(at.Label(c, "label", "question.choices[].label"));
                }
            }
            else
            {
                question = at.String(root, "question");
                var choices = at.Field(root, "choices");
                if (choices.ValueKind != JsonValueKind.Object) throw at.Error("\"choices\" must be an object {\"text\": [...], \"label\": [...]}");
                texts = at.Array(choices, "text", "choices.text").Select(e => at.AsString(e, "choices.text[]")).ToList();
                labels = at.Array(choices, "label", "choices.label").Select(e => at.AsLabel(e, "choices.label[]")).ToList();
                if (texts.Count != labels.Count) throw at.Error($"choices.text has {texts.Count} entries but choices.label {labels.Count}");
            }
            string key = at.Label(root, "answerKey", "answerKey");
            if (texts.Count == 0) throw at.Error("no choices");
            int gold = labels.IndexOf(key);
            if (gold < 0) throw at.Error($"the answerKey '{key}' is not one of the labels {string.Join(", ", labels)}");
            return new TaskItem($"Question: {question}\nAnswer:", texts, gold);
        }

        /// <summary>LnsDsl's own layout for tasks of any prompt format (e.g. the fine-tuning template):
        /// <c>{"context", "choices": [...], "label"}</c>; the context verbatim, each continuation " {choice}".</summary>
        private static TaskItem Plain(JsonElement root, Where at)
        {
            string context = at.String(root, "context");
            if (!root.TryGetProperty("choices", out var list) || list.ValueKind != JsonValueKind.Array) throw at.Error("field \"choices\" is not an array");
            var choices = list.EnumerateArray().Select(c => c.ValueKind == JsonValueKind.String ? c.GetString()! : throw at.Error("a choice is not a string")).ToList();
            return new TaskItem(context, choices, at.Index(root, "label"));
        }

        private static TaskItem Piqa(JsonElement root, Where at)
        {
            string goal = at.String(root, "goal");
            var choices = new[] { at.String(root, "sol1"), at.String(root, "sol2") };
            return new TaskItem($"Question: {goal}\nAnswer:", choices, at.Index(root, "label"));
        }

        private static readonly Regex Bracketed = new(@"\[.*?\]", RegexOptions.CultureInvariant);

        /// <summary>lm-evaluation-harness's HellaSwag preprocess: trim, " [title]" → ". ", drop [...] markers, double spaces → single.</summary>
        public static string HellaSwagPreprocess(string text)
        {
            text = text.Trim();
            text = text.Replace(" [title]", ". ", StringComparison.Ordinal);
            text = Bracketed.Replace(text, "");
            return text.Replace("  ", " ", StringComparison.Ordinal);
        }

        /// <summary>Python's str.capitalize: the first character upper case, the rest lower case.</summary>
        public static string Capitalize(string text)
            => text.Length == 0 ? text : char.ToUpperInvariant(text[0]) + text.Substring(1).ToLowerInvariant();

        private static TaskItem HellaSwag(JsonElement root, Where at)
        {
            string ctx = root.TryGetProperty("ctx_a", out _)
                ? at.String(root, "ctx_a") + " " + Capitalize(root.TryGetProperty("ctx_b", out _) ? at.String(root, "ctx_b") : "")
                : at.String(root, "ctx");
            string query = root.TryGetProperty("activity_label", out _) ? at.String(root, "activity_label") + ": " + ctx : ctx;
            var endings = at.Array(root, "endings", "endings").Select(e => HellaSwagPreprocess(at.AsString(e, "endings[]"))).ToList();
            return new TaskItem(HellaSwagPreprocess(query), endings, at.Index(root, "label"));
        }

        private static TaskItem BoolQ(JsonElement root, Where at)
        {
            string passage = at.String(root, "passage"), question = at.String(root, "question");
            int gold;
            if (root.TryGetProperty("answer", out var answer))
                gold = answer.ValueKind switch
                {
                    JsonValueKind.True => 1,
                    JsonValueKind.False => 0,
                    _ => throw at.Error("\"answer\" must be true or false"),
                };
            else if (root.TryGetProperty("label", out _)) gold = at.Index(root, "label");
            else throw at.Error("missing field \"answer\" (or \"label\")");
            return new TaskItem($"{passage}\nQuestion: {question}?\nAnswer:", new[] { "no", "yes" }, gold);
        }

        private static TaskItem Mmlu(JsonElement root, Where at)
        {
            string question = at.String(root, "question").Trim();
            var choices = at.Array(root, "choices", "choices").Select(e => at.AsString(e, "choices[]")).ToList();
            if (choices.Count == 0) throw at.Error("no choices");
            if (choices.Count > 26) throw at.Error($"{choices.Count} choices: at most 26 (A to Z)");
            var answer = at.Field(root, "answer");
            int gold;
            if (answer.ValueKind == JsonValueKind.String)
            {
                string s = at.AsString(answer, "answer").Trim();
                if (s.Length == 1 && char.ToUpperInvariant(s[0]) is >= 'A' and <= 'Z') gold = char.ToUpperInvariant(s[0]) - 'A';
                else if (int.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out int n)) gold = n;
                else throw at.Error($"\"answer\" must be an index or a letter, not '{s}'");
            }
            else gold = at.Index(root, "answer");
            var context = new System.Text.StringBuilder(question);
            for (int i = 0; i < choices.Count; i++) context.Append('\n').Append((char)('A' + i)).Append(". ").Append(choices[i]);
            context.Append("\nAnswer:");
            return new TaskItem(context.ToString(), choices.Select((_, i) => ((char)('A' + i)).ToString()).ToList(), gold);
        }

        private static string Kind(JsonElement e) => e.ValueKind switch
        {
            JsonValueKind.Array => "an array",
            JsonValueKind.String => "a string",
            JsonValueKind.Number => "a number",
            JsonValueKind.True or JsonValueKind.False => "a boolean",
            JsonValueKind.Null => "null",
            _ => "an object",
        };

        /// <summary>A line of a file, and checked accessors that report problems there.</summary>
        private readonly struct Where
        {
            private readonly string _file;
            private readonly int _line;
            public Where(string file, int line) => (_file, _line) = (file, line);

            public UserError Error(string message) => new($"{_file}:{_line}: {message}");

            public JsonElement Field(JsonElement parent, string name, string? shown = null)
                => parent.TryGetProperty(name, out var v) ? v : throw Error($"missing field \"{shown ?? name}\"");

            public string String(JsonElement parent, string name, string? shown = null) => AsString(Field(parent, name, shown), shown ?? name);

            public string AsString(JsonElement e, string shown)
            {
                if (e.ValueKind != JsonValueKind.String) throw Error($"\"{shown}\" must be a string, not {Kind(e)}");
                try { return e.GetString()!; }
                catch (InvalidOperationException) { throw Error($"\"{shown}\" is not valid text"); }
            }

            public IEnumerable<JsonElement> Array(JsonElement parent, string name, string shown)
            {
                var e = Field(parent, name, shown);
                if (e.ValueKind != JsonValueKind.Array) throw Error($"\"{shown}\" must be an array, not {Kind(e)}");
                return e.EnumerateArray().ToList();
            }

            /// <summary>A label: a string, or a number written as its text.</summary>
            public string Label(JsonElement parent, string name, string shown) => AsLabel(Field(parent, name, shown), shown);

            public string AsLabel(JsonElement e, string shown) => e.ValueKind switch
            {
                JsonValueKind.String => AsString(e, shown).Trim(),
                JsonValueKind.Number => e.GetRawText(),
                _ => throw Error($"\"{shown}\" must be a string or a number, not {Kind(e)}"),
            };

            /// <summary>A 0-based index: a whole number, or a string holding one.</summary>
            public int Index(JsonElement parent, string name)
            {
                var e = Field(parent, name);
                if (e.ValueKind == JsonValueKind.Number && e.TryGetInt32(out int n)) return n;
                if (e.ValueKind == JsonValueKind.String && int.TryParse(AsString(e, name).Trim(), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out n)) return n;
                throw Error($"\"{name}\" must be a whole number (or a string holding one), not {(e.ValueKind == JsonValueKind.Number ? e.GetRawText() : Kind(e))}");
            }
        }
    }
}
