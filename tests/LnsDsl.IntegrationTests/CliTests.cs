using System;
using System.IO;
using System.Linq;
using System.Text.Json;
using LnsDsl.Data;
using LnsDsl.Experiments;
using LnsDsl.Runs;
using LnsDsl.Training;
using Xunit;
using Xunit.Abstractions;

namespace LnsDsl.IntegrationTests
{
    /// <summary>Tests that redirect the console or set process-wide environment run one at a time.</summary>
    [CollectionDefinition("Console", DisableParallelization = true)]
    public sealed class ConsoleCollection { }

    /// <summary>lnsrun end to end through its entry point, on a tiny generated model and a corpus built here.</summary>
    [Collection("Console")]
    public sealed class CliTests : IDisposable
    {
        private readonly string _dir = Path.Combine(Path.GetTempPath(), "lnsdsl-cli-" + Guid.NewGuid().ToString("N"));
        private readonly string? _previousCache = Environment.GetEnvironmentVariable("LNSDSL_CACHE");
        private readonly ITestOutputHelper _output;

        public CliTests(ITestOutputHelper output)
        {
            _output = output;
            ModelCatalog.Register(typeof(LnsDsl.Tests.Models.TinyByteLns).Assembly); // the test models, as --assembly would
            Directory.CreateDirectory(_dir);
            Environment.SetEnvironmentVariable("LNSDSL_CACHE", Path.Combine(_dir, "cache"));
        }

        public void Dispose()
        {
            Environment.SetEnvironmentVariable("LNSDSL_CACHE", _previousCache);
            Directory.Delete(_dir, recursive: true);
        }

        /// <summary>24 documents of deterministic pseudo-English (24 so that the document split has validation).</summary>
        private string Corpus(int documents = 24)
            => LnsDsl.Tests.TestCorpus.RandomWords(Path.Combine(_dir, "corpus" + (documents == 24 ? "" : documents.ToString())), seed: 1, length: _ => 400, documents);

        private (int Code, string Out, string Err) Cli(params string[] args)
        {
            var stdout = new StringWriter();
            var stderr = new StringWriter();
            var (oldOut, oldErr) = (Console.Out, Console.Error);
            Console.SetOut(stdout);
            Console.SetError(stderr);
            int code;
            try { code = LnsDsl.Cli.Program.Main(args); }
            finally
            {
                Console.SetOut(oldOut);
                Console.SetError(oldErr);
            }
            _output.WriteLine($"$ lnsrun {string.Join(" ", args)}  -> exit {code}\n{stdout}{stderr}");
            return (code, stdout.ToString(), stderr.ToString());
        }

        /// <summary>Runs lnsrun in a child process (<see cref="Lnsrun.Run"/>) with this test's cache and the test models' assembly.</summary>
        private int Process(string[] args)
        {
            var all = args.Concat(new[] { "--assembly", Lnsrun.TestModels }).ToArray(); // the test models: a user's compiled models
            var (code, output, errors) = Lnsrun.Run(Directory.GetCurrentDirectory(), Environment.GetEnvironmentVariable("LNSDSL_CACHE")!, all);
            _output.WriteLine($"$ lnsrun {string.Join(" ", args)}  -> exit {code} (child process)\n{output}{errors}");
            return code;
        }

        private string[] Train(string run, params string[] extra)
            => new[] { "train", "TinyByteLns", "--data", Corpus(), "--steps", "10", "--batch", "4", "--seq", "32", "--warmup", "2", "--lr", "3e-3",
                       "--eval-every", "5", "--eval-batches", "2", "--checkpoint-every", "5", "--out", run }.Concat(extra).ToArray();

        private static double[] Losses(string run)
            => File.ReadAllLines(Path.Combine(run, "metrics.jsonl")).Select(l => JsonDocument.Parse(l).RootElement.GetProperty("loss").GetDouble()).ToArray();

        [Fact]
        public void Train_writes_a_run_that_eval_and_generate_accept()
        {
            string run = Path.Combine(_dir, "run");
            var train = Cli(Train(run));
            Assert.Equal(0, train.Code);
            Assert.Equal(new[] { "step-0000005", "step-0000010" }, Checkpoint.List(run).Select(Path.GetFileName));
            Assert.Equal(10, Losses(run).Length);
            Assert.Equal(2, File.ReadAllLines(Path.Combine(run, "eval.jsonl")).Length);
            Assert.NotEmpty(Directory.GetFiles(Path.Combine(run, "tensorboard")));
            using (var config = JsonDocument.Parse(File.ReadAllText(Path.Combine(run, "config.json"))))
                Assert.StartsWith("cl100k compacted to ", config.RootElement.GetProperty("tokenizer").GetString()); // the corpus has fewer distinct tokens than 257
            var losses = Losses(run);
            Assert.True(losses[^1] < losses[0], $"the loss did not fall: {losses[0]} -> {losses[^1]}");

            var eval = Cli("eval", "TinyByteLns", "--checkpoint", run, "--batches", "4", "--batch", "2");
            Assert.Equal(0, eval.Code);
            double perplexity = double.Parse(System.Text.RegularExpressions.Regex.Match(eval.Out, @"perplexity ([0-9.]+)").Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
            Assert.True(double.IsFinite(perplexity) && perplexity < 257, $"perplexity {perplexity} is not below the uniform baseline 257");

            var generate = Cli("generate", "TinyByteLns", "--checkpoint", run, "--prompt", "the deep", "--max-tokens", "12", "--seed", "3");
            Assert.Equal(0, generate.Code);
            Assert.StartsWith("the deep", generate.Out);
            Assert.True(generate.Out.Trim().Length > "the deep".Length, "no text was generated");
            var again = Cli("generate", "TinyByteLns", "--checkpoint", run, "--prompt", "the deep", "--max-tokens", "12", "--seed", "3");
            Assert.Equal(generate.Out, again.Out); // seeded sampling is reproducible
        }

        [Fact]
        public void Eval_with_tasks_prints_a_table_and_writes_json()
        {
            string run = Path.Combine(_dir, "run");
            Assert.Equal(0, Cli(Train(run)).Code);
            string arc = Path.Combine(_dir, "arc_tiny.jsonl"), piqa = Path.Combine(_dir, "piqa_tiny.jsonl"), json = Path.Combine(_dir, "tasks.json");
            File.WriteAllLines(arc, new[]
            {
                "{\"question\": \"the deep layers of a\", \"choices\": {\"text\": [\"transformer\", \"xqzv\"], \"label\": [\"A\", \"B\"]}, \"answerKey\": \"A\"}",
                "{\"id\": \"2\", \"question\": {\"stem\": \"the norm output is\", \"choices\": [{\"text\": \"scaled\", \"label\": \"A\"}, {\"text\": \"qqqq\", \"label\": \"B\"}]}, \"answerKey\": \"A\"}",
                "{\"question\": \"should not collapse into\", \"choices\": {\"text\": [\"zzkx\", \"identity maps\"], \"label\": [\"A\", \"B\"]}, \"answerKey\": \"B\"}",
            });
            File.WriteAllLines(piqa, new[]
            {
                "{\"goal\": \"the deep\", \"sol1\": \"layers\", \"sol2\": \"xx\", \"label\": 0}",
                "{\"goal\": \"scaled by\", \"sol1\": \"kq\", \"sol2\": \"depth\", \"label\": 1}",
            });
            var r = Cli("eval", "--checkpoint", run, "--tasks", arc + "," + piqa, "--shots", "1", "--json", json);
            Assert.True(r.Code == 0, r.Err);
            Assert.Matches(@"task\s+format\s+n\s+acc\s+acc_norm\s+stderr", r.Out);
            Assert.Matches(@"arc_tiny\s+arc\s+3\s+[0-9.]+\s+[0-9.]+\s+[0-9.]+", r.Out);
            Assert.Matches(@"piqa_tiny\s+piqa\s+2\s+[0-9.]+", r.Out);
            using var doc = JsonDocument.Parse(File.ReadAllText(json));
            foreach (var (task, n) in new[] { ("arc_tiny", 3), ("piqa_tiny", 2) })
            {
                var t = doc.RootElement.GetProperty("tasks").GetProperty(task);
                Assert.Equal(n, t.GetProperty("n").GetInt32());
                Assert.Equal(1, t.GetProperty("shots").GetInt32());
                foreach (var figure in new[] { "acc", "acc_norm", "stderr" })
                    Assert.InRange(t.GetProperty(figure).GetDouble(), 0, 1);
            }

            var bad = Path.Combine(_dir, "bad.jsonl");
            File.WriteAllLines(bad, new[] { File.ReadAllLines(piqa)[0], "{\"goal\": \"g\"}" });
            var failed = Cli("eval", "--checkpoint", run, "--tasks", bad);
            Assert.Equal(2, failed.Code);
            Assert.Contains("bad.jsonl:2: missing field \"sol1\"", failed.Err);
        }

        [Fact]
        public void Analyze_writes_a_table_csv_files_and_plots_for_several_runs()
        {
            string a = Path.Combine(_dir, "a"), b = Path.Combine(_dir, "b"), out1 = Path.Combine(_dir, "analysis"), out2 = Path.Combine(_dir, "analysis2");
            Assert.Equal(0, Cli(Train(a)).Code);
            Assert.Equal(0, Cli(Train(b, "--seed", "1")).Code);
            var r = Cli("analyze", "--checkpoint", a, b, "--batches", "2", "--batch", "2", "--out", out1);
            Assert.Equal(0, r.Code);
            Assert.Contains("removal-drop uniformity", r.Out);
            foreach (var png in new[] { "variance.png", "angular.png", "removal.png", "grad-norm.png", "training.png" })
                Assert.True(new FileInfo(Path.Combine(out1, png)).Length > 5000, $"{png} is missing or empty");
            var csvs = Directory.GetFiles(out1, "layers-*.csv").OrderBy(f => f).ToList();
            Assert.Equal(2, csvs.Count);
            Assert.Equal(1 + 1 + 2, File.ReadAllLines(csvs[0]).Length); // header, embedding, 2 blocks
            Assert.Equal(2, Directory.GetFiles(out1, "angular-heatmap-*.png").Length);
            // Deterministic for a fixed checkpoint and batch.
            Assert.Equal(0, Cli("analyze", "--checkpoint", a, b, "--batches", "2", "--batch", "2", "--out", out2).Code);
            Assert.Equal(File.ReadAllText(csvs[0]), File.ReadAllText(Path.Combine(out2, Path.GetFileName(csvs[0]))));
            var metrics = File.ReadAllLines(Path.Combine(a, "metrics.jsonl")).Select(l => JsonDocument.Parse(l).RootElement).ToList();
            Assert.All(metrics, m => Assert.Equal(2, m.GetProperty("block_grad_norms").GetArrayLength()));
        }

        [Fact]
        public void Compare_trains_two_models_tabulates_them_and_reuses_finished_runs()
        {
            string root = Path.Combine(_dir, "compare");
            string[] Args() => new[] { "compare", "TinyByteLns", "TinyByteLnsPost", "--data", Corpus(), "--steps", "6", "--batch", "4", "--seq", "32",
                                       "--warmup", "1", "--eval-every", "3", "--lr", "3e-3,1e-3", "--seeds", "2", "--analysis-batches", "1", "--out", root };
            var first = Cli(Args());
            Assert.Equal(0, first.Code);
            Assert.Contains("| model | lr | seeds | diverged | validation perplexity", first.Out);
            string table = File.ReadAllText(Path.Combine(root, "compare.md"));
            foreach (var model in new[] { "TinyByteLns", "TinyByteLnsPost" })
                Assert.Equal(2, System.Text.RegularExpressions.Regex.Matches(table, $@"\| {model} \| ").Count); // one row per learning rate
            Assert.Contains("- step 3: ", table);
            Assert.Contains("- step 6: ", table);
            Assert.Equal(1 + 4, File.ReadAllLines(Path.Combine(root, "compare.csv")).Length);
            Assert.True(File.Exists(Path.Combine(root, "plots", "variance.png")));
            Assert.True(File.Exists(Path.Combine(Comparison.RunDirectory(root, "TinyByteLnsPost", 1e-3, 1), "checkpoints", "step-0000006", "state.json")));

            // Run again: every run is reused, and the numbers are the same.
            var second = Cli(Args());
            Assert.Equal(0, second.Code);
            Assert.Equal(8, System.Text.RegularExpressions.Regex.Matches(second.Out, "reusing the finished run").Count);
            Assert.Equal(table, File.ReadAllText(Path.Combine(root, "compare.md")));
        }

        [Fact]
        public void Compare_takes_the_whole_training_recipe_document_packing_included()
        {
            string root = Path.Combine(_dir, "compare-doc");
            // A tiny PIQA-layout task every run is scored on.
            string piqa = Path.Combine(_dir, "piqa.jsonl");
            File.WriteAllLines(piqa, new[]
            {
                "{\"goal\": \"the deep\", \"sol1\": \"layers\", \"sol2\": \"zzzz\", \"label\": 0}",
                "{\"goal\": \"scaled by\", \"sol1\": \"qqqq\", \"sol2\": \"depth\", \"label\": 1}",
                "{\"goal\": \"the norm\", \"sol1\": \"output\", \"sol2\": \"xxxx\", \"label\": 0}",
            });
            // 48 documents: two validation documents, enough for document batches of 2.
            var r = Cli("compare", "TinyByteLns", "--tasks", piqa, "--data", Corpus(48), "--tokenizer", "bytes", "--compact", "0", "--packing", "document",
                "--steps", "4", "--batch", "4", "--micro-batch", "2", "--seq", "32", "--warmup", "1", "--clip", "0.5", "--min-lr-ratio", "0.2",
                "--eval-every", "2", "--eval-batches", "1", "--checkpoint-every", "2", "--analysis-batches", "1", "--out", root);
            Assert.Equal(0, r.Code);
            var run = new RunDirectory(Comparison.RunDirectory(root, "TinyByteLns", 1e-3, 0));
            var o = run.ReadConfig().Options;
            Assert.Equal(Packing.Document, o.Packing);
            Assert.Equal(("bytes", 0, 2, 0.5, 0.2, 1), (o.Tokenizer, o.Compact, o.MicroBatch, o.Clip, o.MinLrRatio, o.EvalBatches));
            Assert.Equal(new[] { 2, 4 }, run.ReadEvaluations().Select(e => e.Step).ToArray());
            Assert.Equal(4, run.ReadSteps().Count);
            // The task's columns: acc and acc_norm in the table and the CSV.
            Assert.Contains("| piqa acc / acc_norm |", File.ReadAllText(Path.Combine(root, "compare.md")));
            var csv = File.ReadAllLines(Path.Combine(root, "compare.csv"));
            Assert.Contains("piqa_acc,piqa_acc_norm", csv[0]);
            double acc = double.Parse(csv[1].Split(',')[^2], System.Globalization.CultureInfo.InvariantCulture);
            Assert.Contains(acc, new[] { 0.0, 1.0 / 3, 2.0 / 3, 1.0 });
        }

        [Theory]
        [InlineData("TinyByteLnsTheta", "RopeTheta: 10000 (saved) vs 500000 (model)")]
        [InlineData("TinyByteLnsEps", "Eps: 1E-06 (saved) vs 1E-05 (model)")]
        public void A_checkpoint_is_refused_by_a_model_that_computes_another_function_naming_each_field(string other, string difference)
        {
            string run = Path.Combine(_dir, "run");
            Assert.Equal(0, Cli(Train(run)).Code);
            var r = Cli("eval", other, "--checkpoint", run, "--batches", "1", "--batch", "1");
            Assert.Equal(2, r.Code);
            Assert.Contains(difference, r.Err);
            Assert.Contains("it belongs to TinyByteLns", r.Err);
            Assert.DoesNotContain("Blocks[", r.Err); // the blocks are the same: only the field that differs is named
        }

        [Fact]
        public void A_relabelled_placement_and_a_checkpoint_of_the_first_format_still_load()
        {
            string run = Path.Combine(_dir, "run");
            Assert.Equal(0, Cli(Train(run)).Code);
            string stateFile = Path.Combine(Checkpoint.Resolve(run), "state.json");
            string original = File.ReadAllText(stateFile);
            var state = JsonSerializer.Deserialize<CheckpointState>(original, RunDirectory.Json)!;
            Assert.Equal(Checkpoint.CurrentFormat, state.Format);
            string Eval() { var e = Cli("eval", "TinyByteLns", "--checkpoint", run, "--batches", "1", "--batch", "1"); Assert.True(e.Code == 0, e.Err); return e.Out; }
            string expected = Eval();

            // The description is for people: rewording it (as a relabelled placement would) changes nothing.
            File.WriteAllText(stateFile, JsonSerializer.Serialize(state with { Architecture = "TinyByteLns: pre-norm with layer-norm scaling, reworded" }, RunDirectory.Json));
            Assert.Equal(expected, Eval());

            // The first format recorded only a description string and compared it exactly.
            var spec = ModelCatalog.Get("TinyByteLns").Spec;
            var legacy = state with { Format = 0, Spec = null, Data = null, Architecture = Checkpoint.LegacyArchitectureString(spec) };
            File.WriteAllText(stateFile, JsonSerializer.Serialize(legacy, RunDirectory.Json));
            Assert.Equal(expected, Eval());
            var refused = Cli("eval", "TinyByteLnsTheta", "--checkpoint", run, "--batches", "1", "--batch", "1");
            Assert.Equal(2, refused.Code);
            Assert.Contains("written by an earlier LnsDsl", refused.Err);
        }

        [Fact]
        public void Import_eval_generate_and_analyze_take_a_hugging_face_checkpoint()
        {
            var config = LnsDsl.Tests.HfCheckpoints.Config("llama", c => c["vocab_size"] = 300);
            string hf = LnsDsl.Tests.HfCheckpoints.Write(Path.Combine(_dir, "tiny-llama"), config, LnsDsl.Tests.HfCheckpoints.Weights(config), TorchSharp.torch.ScalarType.BFloat16);
            var import = Cli("import", "--hf", hf);
            Assert.Equal(0, import.Code);
            Assert.Contains("[Norm(Kind.Pre, Eps = 1E-05)]", import.Out);
            Assert.Contains("public partial class tiny_llama { }", import.Out);

            // The checkpoint has no tokenizer files: the bytes tokenizer (257 ids) fits its 300.
            var eval = Cli("eval", "--hf", hf, "--tokenizer", "bytes", "--data", Corpus(), "--seq", "32", "--batches", "2", "--batch", "2");
            Assert.Equal(0, eval.Code);
            Assert.Contains("tiny_llama (imported) at step 0", eval.Out);
            var noTokenizer = Cli("eval", "--hf", hf, "--data", Corpus());
            Assert.Equal(2, noTokenizer.Code);
            Assert.Contains("has no tokenizer", noTokenizer.Err);
            Assert.Contains("--tokenizer", noTokenizer.Err);

            var generate = Cli("generate", "--hf", hf, "--tokenizer", "bytes", "--prompt", "the", "--max-tokens", "5", "--temperature", "0");
            Assert.Equal(0, generate.Code);

            string out_ = Path.Combine(_dir, "hf-analysis");
            var analyze = Cli("analyze", "--hf", hf, "--tokenizer", "bytes", "--data", Corpus(), "--seq", "32", "--batches", "1", "--batch", "2", "--last-token", "--skip-gradients", "--out", out_);
            Assert.Equal(0, analyze.Code);
            Assert.Contains("tiny_llama (imported)", analyze.Out);
            Assert.True(File.Exists(Path.Combine(out_, "removal.png")));
            var report = LayerReportFiles.Read(LayerReportFiles.LayersFile(out_, "tiny_llama (imported)"), LayerReportFiles.HeatmapFile(out_, "tiny_llama (imported)"), "x");
            Assert.Equal(3, report.Layers);
            Assert.All(report.GradientNorm, g => Assert.True(double.IsNaN(g)));
            Assert.All(report.AngularDistance, d => Assert.InRange(d, 0.0, 1.0));

            Assert.Equal(2, Cli("eval", "--hf", hf, "--checkpoint", hf).Code); // one source, not two

            // With its own byte-level BPE tokenizer.json, no --tokenizer is needed; compare measures it beside a trained run.
            LnsDsl.Tests.HfCheckpoints.WriteByteLevelTokenizer(hf, "t h", "th e", "e e", "d e");
            var own = Cli("eval", "--hf", hf, "--data", Corpus(), "--seq", "32", "--batches", "1", "--batch", "2");
            Assert.Equal(0, own.Code);
            Assert.Contains("hf:", own.Out);
            string root = Path.Combine(_dir, "compare-hf");
            var compare = Cli("compare", "TinyByteLns", "--hf", hf, "--data", Corpus(), "--tokenizer", "bytes", "--steps", "2", "--batch", "2", "--seq", "32",
                "--warmup", "1", "--eval-every", "2", "--eval-batches", "1", "--analysis-batches", "1", "--out", root);
            Assert.Equal(0, compare.Code);
            Assert.Contains("| tiny_llama (imported) | imported | 1 | 0 |", compare.Out);
            Assert.Contains("their own tokenizers", File.ReadAllText(Path.Combine(root, "compare.md")));

            // Out again: re-exported without block 2, and a declared model at its initialisation; Post-LN is refused.
            string pruned = Path.Combine(_dir, "pruned");
            Assert.Equal(0, Cli("export", "--hf", hf, pruned, "--remove-layers", "2").Code);
            Assert.Contains("\"num_hidden_layers\": 2", File.ReadAllText(Path.Combine(pruned, "config.json")));
            Assert.True(File.Exists(Path.Combine(pruned, "tokenizer.json")));
            string declared = Path.Combine(_dir, "declared");
            Assert.Equal(0, Cli("export", "TinyByteLns", "--hf", declared).Code);
            Assert.Contains("LlamaForCausalLM", File.ReadAllText(Path.Combine(declared, "config.json")));
            var refused = Cli("export", "TinyByteLnsPost", "--hf", Path.Combine(_dir, "post"));
            Assert.Equal(2, refused.Code);
            Assert.Contains("--pytorch", refused.Err);
            Assert.False(Directory.Exists(Path.Combine(_dir, "post")));
        }

        [Fact]
        public void Export_pytorch_writes_the_hand_off_that_lnsrun_evaluates_to_the_runs_loss()
        {
            string run = Path.Combine(_dir, "run");
            Assert.Equal(0, Cli(Train(run)).Code);
            string out_ = Path.Combine(_dir, "pt");
            var export = Cli("export", "--checkpoint", run, "--pytorch", out_);
            Assert.Equal(0, export.Code);
            foreach (var file in new[] { "model.py", "config.json", "model.safetensors", "options.json", "lnsdsl_tokenizer.json", "README.md" })
                Assert.True(File.Exists(Path.Combine(out_, file)), file);
            var options = LnsDsl.Interop.PyTorch.PyTorchCheckpoint.ReadOptions(out_);
            Assert.Equal((10, 4, 32), (options.Step, options.Options.Batch, options.Options.Seq));
            Assert.True(File.Exists(Path.Combine(options.Cache!, "train.lnstok")));

            string Loss(string checkpoint)
            {
                var r = Cli("eval", "--checkpoint", checkpoint, "--batches", "2", "--batch", "2");
                Assert.True(r.Code == 0, r.Err);
                return r.Out.Split('\n')[1];
            }
            Assert.Equal(Loss(run), Loss(out_));
            var again = Cli("export", "--checkpoint", run, "--pytorch", out_);
            Assert.Equal(2, again.Code);
            Assert.Contains("is not empty", again.Err);
        }

        /// <summary>40 instruction examples (a copying task), one line per layout in turn.</summary>
        private string Instructions()
        {
            string file = Path.Combine(_dir, "sft.jsonl");
            var random = new Random(5);
            var words = "deep layers scale norm depth block".Split(' ');
            var lines = Enumerable.Range(0, 40).Select(i =>
            {
                string w = words[random.Next(words.Length)] + " " + words[random.Next(words.Length)];
                return (i % 3) switch
                {
                    0 => $"{{\"prompt\": \"repeat: {w}\", \"response\": \"{w}\"}}",
                    1 => $"{{\"instruction\": \"repeat\", \"input\": \"{w}\", \"output\": \"{w}\"}}",
                    _ => $"{{\"messages\": [{{\"role\": \"user\", \"content\": \"repeat: {w}\"}}, {{\"role\": \"assistant\", \"content\": \"{w}\"}}]}}",
                };
            });
            File.WriteAllLines(file, lines);
            return file;
        }

        [Fact]
        public void Finetune_starts_from_a_checkpoint_learns_responses_and_resumes_exactly()
        {
            string run = Path.Combine(_dir, "run");
            Assert.Equal(0, Cli(Train(run)).Code);
            string[] Tune(string out_, params string[] extra) => new[] { "finetune", "--checkpoint", run, "--data", Instructions(), "--steps", "12", "--batch", "4",
                "--seq", "48", "--warmup", "2", "--lr", "3e-3", "--eval-every", "6", "--eval-batches", "2", "--checkpoint-every", "6", "--out", out_ }.Concat(extra).ToArray();
            string whole = Path.Combine(_dir, "sft-whole");
            var r = Cli(Tune(whole));
            Assert.True(r.Code == 0, r.Err);
            Assert.Contains("40 instruction examples, 38 for training, 2 held out", r.Out + r.Err);
            var config = new RunDirectory(whole).ReadConfig();
            Assert.True(config.Options.FineTune);
            Assert.Equal(Checkpoint.Resolve(run), config.Options.StartFrom); // the run records where it started
            Assert.Equal("TinyByteLns", config.Model);
            var losses = Losses(whole);
            Assert.Equal(12, losses.Length);
            Assert.True(losses.Skip(8).Average() < losses.Take(4).Average(), "fine-tuning should lower the response loss");

            // Stopped at step 5 and resumed in another process: the same losses.
            string split = Path.Combine(_dir, "sft-split");
            Assert.Equal(0, Process(Tune(split, "--stop-at", "5")));
            Assert.Equal(0, Process(Tune(split, "--resume")));
            Assert.Equal(losses, Losses(split));

            // A bad line is named and nothing is written.
            string bad = Path.Combine(_dir, "bad.jsonl");
            File.WriteAllLines(bad, new[] { "{\"prompt\": \"a\", \"response\": \"b\"}", "{\"prompt\": \"a\"}" });
            string nowhere = Path.Combine(_dir, "sft-bad");
            var failed = Cli("finetune", "--checkpoint", run, "--data", bad, "--steps", "4", "--warmup", "1", "--out", nowhere);
            Assert.Equal(2, failed.Code);
            Assert.Contains("line 2: field \"response\" is missing", failed.Err);
            Assert.False(Directory.Exists(nowhere));
        }

        [Fact]
        public void A_fine_tuned_model_solves_a_synthetic_task_the_pre_trained_one_does_not()
        {
            // Pre-train briefly on the corpus (bytes: the instruction text is in the vocabulary), then fine-tune on a
            // copying task and score both on a multiple-choice version of it: the right word against each other word.
            string run = Path.Combine(_dir, "run-bytes");
            Assert.Equal(0, Cli(Train(run, "--tokenizer", "bytes")).Code);
            var words = new[] { "alpha", "beta", "gamma", "delta" };
            string sft = Path.Combine(_dir, "copy.jsonl");
            File.WriteAllLines(sft, Enumerable.Range(0, 40).Select(i => $"{{\"prompt\": \"repeat: {words[i % 4]}\", \"response\": \"{words[i % 4]}\"}}"));
            string task = Path.Combine(_dir, "copy-task.jsonl");
            // LnsDsl's plain layout: the context in the fine-tuning template, the right word first or second in turn.
            File.WriteAllLines(task, words.SelectMany(w => words.Where(o => o != w).Select((o, k) =>
                $"{{\"context\": \"User: repeat: {w}\\nAssistant:\", \"choices\": [\"{(k % 2 == 0 ? w : o)}\", \"{(k % 2 == 0 ? o : w)}\"], \"label\": {k % 2}}}")));
            double Accuracy(string checkpoint)
            {
                string json = Path.Combine(_dir, Path.GetFileName(checkpoint) + "-tasks.json");
                var r = Cli("eval", "--checkpoint", checkpoint, "--tasks", task, "--json", json);
                Assert.True(r.Code == 0, r.Err);
                using var doc = JsonDocument.Parse(File.ReadAllText(json));
                return doc.RootElement.GetProperty("tasks").EnumerateObject().First().Value.GetProperty("acc").GetDouble();
            }
            string tuned = Path.Combine(_dir, "tuned");
            var r = Cli("finetune", "--checkpoint", run, "--data", sft, "--steps", "200", "--batch", "8", "--seq", "48", "--warmup", "10",
                "--lr", "5e-3", "--eval-every", "0", "--checkpoint-every", "200", "--out", tuned);
            Assert.True(r.Code == 0, r.Err);
            var tunedLosses = Losses(tuned);
            _output.WriteLine($"fine-tuning loss {tunedLosses[0]:F3} -> {tunedLosses[^1]:F3}");
            double before = Accuracy(run), after = Accuracy(tuned);
            _output.WriteLine($"copy task (12 items, 2 choices): pre-trained acc {before:F3}, fine-tuned acc {after:F3}");
            Assert.True(after >= 0.9, $"fine-tuned acc {after}");
            Assert.True(before <= 0.75, $"pre-trained acc {before}");
        }

        [Fact]
        public void Finetune_starts_from_a_hugging_face_checkpoint_too()
        {
            var config = LnsDsl.Tests.HfCheckpoints.Config("llama", c => c["vocab_size"] = 300);
            string hf = LnsDsl.Tests.HfCheckpoints.Write(Path.Combine(_dir, "tiny-llama-sft"), config, LnsDsl.Tests.HfCheckpoints.Weights(config));
            LnsDsl.Tests.HfCheckpoints.WriteByteLevelTokenizer(hf, "t h", "th e");
            string[] Tune(string out_, params string[] extra) => new[] { "finetune", "--hf", hf, "--data", Instructions(), "--steps", "8", "--batch", "4",
                "--seq", "48", "--warmup", "1", "--lr", "3e-3", "--eval-every", "4", "--eval-batches", "1", "--checkpoint-every", "4", "--out", out_ }.Concat(extra).ToArray();
            string whole = Path.Combine(_dir, "hf-sft");
            var r = Cli(Tune(whole));
            Assert.True(r.Code == 0, r.Err);
            var options = new RunDirectory(whole).ReadConfig().Options;
            Assert.Equal("hf:" + Path.GetFullPath(hf), options.StartFrom); // the run records where it started
            Assert.Equal("tiny_llama_sft", options.Model);
            var losses = Losses(whole);
            Assert.Equal(8, losses.Length);
            Assert.True(losses[^1] < losses[0], "fine-tuning should lower the response loss");
            // Stopped and resumed (in process: the imported model is compiled again from the same config): the same losses.
            string split = Path.Combine(_dir, "hf-sft-split");
            Assert.Equal(0, Cli(Tune(split, "--stop-at", "3")).Code);
            Assert.Equal(0, Cli(Tune(split, "--resume")).Code);
            Assert.Equal(losses, Losses(split));
        }

        [Fact]
        public void A_stopped_and_resumed_run_reproduces_the_uninterrupted_losses_exactly()
        {
            string whole = Path.Combine(_dir, "whole");
            string split = Path.Combine(_dir, "split");
            Assert.Equal(0, Cli(Train(whole)).Code);
            // The halves run in separate processes, as a real interrupted run would.
            Assert.Equal(0, Process(Train(split, "--stop-at", "4")));
            Assert.Equal(4, Losses(split).Length);
            Assert.Equal(0, Process(Train(split, "--resume")));
            Assert.Equal(Losses(whole), Losses(split));
        }

        [Fact]
        public void An_interrupted_checkpoint_write_leaves_the_previous_checkpoint_loadable()
        {
            string run = Path.Combine(_dir, "run");
            Assert.Equal(0, Cli(Train(run)).Code);
            // A crash during the write of step 15 leaves only its temporary directory behind.
            string partial = Path.Combine(run, "checkpoints", ".step-0000015.partial-deadbeef");
            Directory.CreateDirectory(partial);
            File.WriteAllText(Path.Combine(partial, "model.bin"), "half a checkpoint");
            Assert.EndsWith("step-0000010", Checkpoint.Resolve(run));
            Assert.Equal(0, Cli("eval", "TinyByteLns", "--checkpoint", run, "--batches", "1", "--batch", "1").Code);
        }

        [Fact]
        public void Bad_input_gets_a_specific_error_and_a_nonzero_exit()
        {
            string run = Path.Combine(_dir, "run");
            Assert.Equal(0, Cli(Train(run)).Code);

            void Fails(string phrase, int exitCode, params string[] args)
            {
                var r = Cli(args);
                Assert.Equal(exitCode, r.Code);
                Assert.Contains(phrase, r.Err);
            }
            Fails("Did you mean TinyByteLns", 2, "train", "TinyByteLnz", "--data", Corpus());
            Fails("does not exist", 2, "train", "TinyByteLns", "--data", Path.Combine(_dir, "missing.txt"));
            string empty = Path.Combine(_dir, "empty");
            Directory.CreateDirectory(empty);
            File.WriteAllText(Path.Combine(empty, "a.txt"), "   \n");
            Fails("holds no text", 2, "train", "TinyByteLns", "--data", empty);
            Fails("must divide --batch", 2, Train(Path.Combine(_dir, "x"), "--micro-batch", "3"));
            Fails("--warmup must be in", 2, "train", "TinyByteLns", "--steps", "5", "--warmup", "5");
            Fails("already holds a run", 2, Train(run));
            Fails("differ from the run being resumed", 2, Train(run, "--resume").Select(a => a == "3e-3" ? "1e-3" : a).ToArray());
            Fails("has 100277 ids but TinyByteLns has Vocab = 257", 2, Train(Path.Combine(_dir, "y"), "--compact", "0"));
            Fails("is of another architecture", 2, "eval", "TinyLns", "--checkpoint", run);
            Fails("does not exist", 2, "eval", "TinyByteLns", "--checkpoint", Path.Combine(_dir, "nowhere"));

            // A corrupted checkpoint is detected, never loaded.
            string model = Path.Combine(Checkpoint.Resolve(run), "model.bin");
            var bytes = File.ReadAllBytes(model);
            bytes[bytes.Length / 2] ^= 0xff;
            File.WriteAllBytes(model, bytes);
            Fails("does not match its checksum", 2, "eval", "TinyByteLns", "--checkpoint", run);

            // A corrupted token cache is detected, never used.
            string cache;
            using (var config = JsonDocument.Parse(File.ReadAllText(Path.Combine(run, "config.json"))))
                cache = config.RootElement.GetProperty("cache").GetString()!;
            string train = Path.Combine(cache, "train.lnstok");
            var tokens = File.ReadAllBytes(train);
            tokens[^20] ^= 0x5a;
            File.WriteAllBytes(train, tokens);
            Fails("is corrupt (checksum mismatch)", 2, Train(Path.Combine(_dir, "z")));
        }

        [Fact]
        public void Cancelling_like_ctrl_c_finishes_the_step_writes_a_checkpoint_and_can_be_resumed()
        {
            string run = Path.Combine(_dir, "cancel");
            using var cancel = new System.Threading.CancellationTokenSource();
            var options = new TrainOptions
            {
                Model = "TinyByteLns", Data = Corpus(), Steps = 10, Batch = 4, Seq = 32, Warmup = 2, Lr = 3e-3, EvalEvery = 5, EvalBatches = 2,
                CheckpointEvery = 5, Out = run,
            };
            var trainer = new Trainer(options, _ => { }) { OnStep = (step, _) => { if (step == 3) cancel.Cancel(); } };
            var result = trainer.Run(cancel.Token);
            Assert.True(result.Interrupted);
            Assert.Equal(3, result.Step);
            Assert.EndsWith("step-0000003", Checkpoint.Resolve(run));
            Assert.Equal(0, Cli(Train(run, "--resume")).Code);
            Assert.Equal(10, Losses(run).Length);
        }

        [Fact]
        public void Data_continuation_writes_the_fine_tuning_examples_and_the_task_and_refuses_a_missing_out_or_a_one_line_corpus()
        {
            string dir = Path.Combine(_dir, "sentences");
            Directory.CreateDirectory(dir);
            for (int d = 0; d < 40; d++)
                File.WriteAllText(Path.Combine(dir, $"doc{d:D2}.txt"), string.Join("\n", Enumerable.Range(0, 8).Select(k => $"Document {d} has sentence number {k} in it" + new string('!', (d + k) % 7))));
            string task = Path.Combine(_dir, "task");
            var ok = Cli("data", "continuation", "--data", dir, "--out", task, "--examples", "30", "--items", "12", "--choices", "3");
            Assert.Equal(0, ok.Code);
            Assert.Contains("12 items of 12 windows", ok.Out); // 2 held-out documents x 6 windows: all used
            Assert.Equal(30, File.ReadAllLines(Path.Combine(task, "continuation-sft.jsonl")).Length);
            var items = LnsDsl.Evaluation.TaskReader.Read(Path.Combine(task, "continuation-task.jsonl")).Items;
            Assert.Equal(12, items.Count);
            Assert.All(items, i => Assert.Equal(3, i.Choices.Count));

            var noOut = Cli("data", "continuation", "--data", dir);
            Assert.NotEqual(0, noOut.Code);
            Assert.Contains("--out DIR", noOut.Err);
            string other = Path.Combine(_dir, "task-from-words");
            var words = Cli("data", "continuation", "--data", Corpus(), "--out", other);
            Assert.NotEqual(0, words.Code);
            Assert.Contains("one sentence per line", words.Err);
            Assert.False(Directory.Exists(other));
        }

        [Fact]
        public void Convert_gives_a_checkpoint_that_eval_scores_the_same_and_train_resumes_without_its_declaration()
        {
            string run = Path.Combine(_dir, "ln");
            string[] common = { "--data", Corpus(), "--tokenizer", "bytes", "--compact", "61", "--batch", "4", "--seq", "32", "--warmup", "2", "--lr", "3e-3", "--eval-every", "0", "--eval-batches", "2" };
            Assert.Equal(0, Cli(new[] { "train", "TinyLayerNormSwiGluBiases", "--steps", "8", "--stop-at", "6", "--out", run }.Concat(common).ToArray()).Code);
            string rms = Path.Combine(_dir, "rms");
            var convert = Cli("convert", "--checkpoint", run, "--to", "crmsnorm", "--out", rms);
            Assert.Equal(0, convert.Code);
            Assert.Contains("TinyLayerNormSwiGluBiases -> TinyLayerNormSwiGluBiases_CRmsNorm at step 6", convert.Out);

            // eval needs no declaration of the converted class: the checkpoint's architecture is compiled.
            double Loss(string r)
            {
                var e = Cli("eval", "--checkpoint", r, "--batches", "2", "--batch", "2");
                Assert.Equal(0, e.Code);
                var m = System.Text.RegularExpressions.Regex.Match(e.Out, @"loss\s+([0-9.]+)");
                Assert.True(m.Success, e.Out);
                return double.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
            }
            Assert.Equal(Loss(run), Loss(rms), 4);

            // train --resume continues the converted run (the model recorded in it) to the end, two more steps.
            Assert.Equal(0, Cli(new[] { "train", "--resume", "--steps", "8", "--out", rms }.Concat(common).ToArray()).Code);
            Assert.Equal(2, Losses(rms).Length);

            // Bad input: an unconvertible placement and an already converted checkpoint; nothing is written.
            foreach (var (from, to, phrase) in new[] { (run, "crmsnorm", "--out"), (rms, "crmsnorm", "already uses CRMSNorm"), (run, "groupnorm", "--to must be rmsnorm, crmsnorm or layernorm") })
            {
                string target = Path.Combine(_dir, "refused");
                var bad = Cli("convert", "--checkpoint", from, "--to", to, "--out", phrase == "--out" ? rms : target);
                Assert.NotEqual(0, bad.Code);
                Assert.Contains(phrase == "--out" ? "never overwrites" : phrase, bad.Err);
                Assert.False(Directory.Exists(target));
            }
        }

        [Fact]
        public void Without_npm_the_built_in_corpus_names_the_fix()
        {
            string path = Environment.GetEnvironmentVariable("PATH") ?? "";
            Environment.SetEnvironmentVariable("PATH", Path.Combine(_dir, "no-tools"));
            try
            {
                var r = Cli("data", "fetch");
                Assert.Equal(2, r.Code);
                Assert.Contains("npm is not installed", r.Err);
                Assert.Contains("--data PATH", r.Err);
            }
            finally
            {
                Environment.SetEnvironmentVariable("PATH", path);
            }
        }

        [Fact]
        public void Reading_step_statistics_a_step_late_as_on_cuda_changes_nothing_and_still_stops_a_diverging_run()
        {
            string data = Corpus();
            TrainResult Run(string name, bool late, double lr = 3e-3, int every = 5) => new Trainer(new TrainOptions
            {
                Model = "TinyByteLns", Data = data, Steps = 10, Batch = 4, Seq = 32, Warmup = 2, Lr = lr, EvalEvery = 5, EvalBatches = 2,
                CheckpointEvery = every, Out = Path.Combine(_dir, name),
            }, _ => { }) { DeferStatistics = late }.Run();
            var now = Run("now", late: false);
            var late = Run("late", late: true);
            Assert.Equal(10, Losses(now.RunDirectory).Length);
            Assert.Equal(Losses(now.RunDirectory), Losses(late.RunDirectory));
            Assert.Equal(File.ReadAllText(Path.Combine(now.RunDirectory, "eval.jsonl")), File.ReadAllText(Path.Combine(late.RunDirectory, "eval.jsonl")));
            Assert.Equal(now.ValidationLoss, late.ValidationLoss);
            Assert.Equal(Checkpoint.List(now.RunDirectory).Select(Path.GetFileName), Checkpoint.List(late.RunDirectory).Select(Path.GetFileName));

            // A step is checkpointed only after its statistics were seen to be finite.
            var error = Assert.Throws<SettingError>(() => Run("nan", late: true, lr: 1e30, every: 1));
            Assert.Equal(3, error.ExitCode);
            int bad = int.Parse(System.Text.RegularExpressions.Regex.Match(error.Message, @"at step (\d+)").Groups[1].Value);
            var kept = Checkpoint.List(Path.Combine(_dir, "nan"));
            Assert.Equal(bad - 1, kept.Count == 0 ? 0 : int.Parse(Path.GetFileName(kept[^1]).Substring(5)));
        }

        [Fact]
        public void A_diverging_run_stops_naming_the_step_and_keeps_the_last_good_checkpoint()
        {
            string run = Path.Combine(_dir, "nan");
            var r = Cli("train", "TinyByteLns", "--data", Corpus(), "--steps", "10", "--batch", "4", "--seq", "32", "--warmup", "0", "--lr", "1e30",
                "--checkpoint-every", "1", "--out", run);
            Assert.Equal(3, r.Code);
            var match = System.Text.RegularExpressions.Regex.Match(r.Err, @"at step (\d+)");
            Assert.True(match.Success, r.Err);
            int bad = int.Parse(match.Groups[1].Value);
            var kept = Checkpoint.List(run);
            Assert.Equal(bad - 1, kept.Count == 0 ? 0 : int.Parse(Path.GetFileName(kept[^1]).Substring(5)));
            if (kept.Count > 0) Assert.Contains(kept[^1], r.Err);
        }

        [Fact]
        public void Bench_prints_the_table_and_writes_json_and_rejects_bad_input()
        {
            string json = Path.Combine(_dir, "out", "bench.json");
            var run = Cli("bench", "TinyByteLns", "--batch", "2", "--seq", "16", "--repetitions", "2", "--steps", "1", "--warmup", "1", "--json", json);
            Assert.Equal(0, run.Code);
            Assert.Contains("generated / unfused", run.Out);
            Assert.Contains("MFU vs model-shape matmul ceiling", run.Out);
            using (var doc = JsonDocument.Parse(File.ReadAllText(json)))
                Assert.Equal(16, doc.RootElement.GetProperty("seq").GetInt32());

            var tooLong = Cli("bench", "TinyByteLns", "--seq", "100000", "--json", Path.Combine(_dir, "never.json"));
            Assert.Equal(2, tooLong.Code);
            Assert.Contains("MaxSeq", tooLong.Err);
            Assert.False(File.Exists(Path.Combine(_dir, "never.json")));
            var noSteps = Cli("bench", "TinyByteLns", "--steps", "0");
            Assert.Equal(2, noSteps.Code);
            Assert.Contains("--steps", noSteps.Err);
        }
    }
}
