using System;
using System.Linq;
using LnsDsl.Cli;
using LnsDsl.Cli.Options;
using LnsDsl.Cli.Verbs;
using LnsDsl.Training;
using Xunit;

namespace LnsDsl.IntegrationTests
{
    /// <summary>The command line is a view of the library's option records: nothing declared twice, nothing lost.</summary>
    public sealed class OptionTests
    {
        /// <summary>Every option of every verb sets a property of one of the verb's library records (or is an input of the CLI itself).</summary>
        [Fact]
        public void Every_option_sets_a_library_setting_of_the_same_name()
        {
            foreach (var type in Program.Verbs)
            {
                var verb = (Verb)Activator.CreateInstance(type)!;
                var records = verb.Records();
                foreach (var (property, option) in Settings.Options(type))
                {
                    if (Settings.CliOnly.Contains(property.Name) || verb.Inputs.Contains(property.Name)) continue;
                    Assert.True(records.Any(r => r.GetType().GetProperty(property.Name) is { CanWrite: true }),
                        $"lnsrun {type.Name}: --{option.LongName} ({property.Name}) sets no property of {string.Join(", ", records.Select(r => r.GetType().Name))}");
                }
            }
        }

        /// <summary>A flag of an option group is declared there only: the same flag is the same setting in every verb.
        /// The bench's --steps and --warmup are its own settings (steps per timed repetition, untimed steps first), and
        /// analyze's and compare's --checkpoint and --hf take several where eval and generate take one, import's --hf is required, export's --hf names its output (IN OUT to re-export), and finetune's --checkpoint is where it starts.</summary>
        [Fact]
        public void Each_flag_of_an_option_group_is_declared_once()
        {
            var declarations = Program.Verbs.SelectMany(t => Settings.Options(t))
                .Select(p => (p.Option.LongName, Declarer: p.Property.DeclaringType!)).Distinct()
                .Where(d => !(d.Declarer == typeof(BenchVerb) && d.LongName is "steps" or "warmup") && !(d.Declarer == typeof(AnalyzeVerb) && d.LongName is "checkpoint" or "hf") && !(d.Declarer == typeof(ImportVerb) && d.LongName == "hf")
                            && !(d.Declarer == typeof(ExportVerb) && d.LongName is "hf" or "checkpoint")
                            && !(d.Declarer == typeof(CompareVerb) && d.LongName is "hf" or "checkpoint")
                            && !(d.Declarer == typeof(FineTuneVerb) && d.LongName is "checkpoint" or "hf"))
                .GroupBy(p => p.LongName).Where(g => g.Count() > 1 && g.Any(d => d.Declarer.IsInterface)).ToList();
            Assert.True(declarations.Count == 0, "flags declared on an option group and again elsewhere: "
                + string.Join("; ", declarations.Select(g => $"--{g.Key} in {string.Join(", ", g.Select(d => d.Declarer.Name))}")));
        }

        [Fact]
        public void Options_that_were_not_given_keep_the_records_defaults_and_given_ones_override_them()
        {
            var verb = new TrainVerb { Steps = 7, Clip = 0.5, Packing = LnsDsl.Data.Packing.Document, Resume = true };
            var options = Settings.Apply(verb, new TrainOptions());
            var defaults = new TrainOptions();
            Assert.Equal((7, 0.5, LnsDsl.Data.Packing.Document, true), (options.Steps, options.Clip, options.Packing, options.Resume));
            Assert.Equal((defaults.Batch, defaults.Lr, defaults.Warmup, defaults.Tokenizer), (options.Batch, options.Lr, options.Warmup, options.Tokenizer));
        }

        [Fact]
        public void Library_errors_name_the_setting_and_the_cli_names_its_flag()
        {
            var error = Assert.Throws<SettingError>(() => Trainer.Validate(new TrainOptions { Steps = 10, Warmup = 10 }));
            Assert.StartsWith("Warmup must be in [0, Steps)", error.Message);
            Assert.StartsWith("--warmup must be in [0, --steps)", error.For(s => Settings.Flag(typeof(TrainVerb), s)));
            Assert.Equal("--keep", Settings.Flag(typeof(TrainVerb), nameof(TrainOptions.KeepCheckpoints)));
            Assert.Equal("--lr", Settings.Flag(typeof(CompareVerb), "LearningRates"));
        }
    }
}
