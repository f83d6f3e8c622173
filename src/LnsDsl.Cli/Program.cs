using System;
using System.Collections.Generic;
using System.Linq;
using CommandLine;
using CommandLine.Text;
using LnsDsl.Cli.Options;
using LnsDsl.Cli.Verbs;
using LnsDsl.Models;

namespace LnsDsl.Cli
{
    /// <summary>lnsrun: parses the command line, runs the verb, and turns errors into messages and exit codes.</summary>
    public static class Program
    {
        /// <summary>Every verb, in the order of <c>lnsrun --help</c>.</summary>
        public static readonly Type[] Verbs =
        {
            typeof(ListVerb), typeof(DescribeVerb), typeof(TrainVerb), typeof(FineTuneVerb), typeof(EvalVerb), typeof(GenerateVerb),
            typeof(AnalyzeVerb), typeof(CompareVerb), typeof(BenchVerb), typeof(DataVerb), typeof(ImportVerb), typeof(ExportVerb), typeof(ConvertVerb),
        };

        public static int Main(string[] args)
        {
#if LNSDSL_SLIM
            // The packaged tool: build the project here (or use an installed backend) and run the verb in a child process.
            try
            {
                if (Hosting.ProjectHost.Run(args) is int hosted) return hosted;
            }
            catch (UserError e)
            {
                Console.Error.WriteLine("error: " + e.Message);
                return e.ExitCode;
            }
#endif
            ModelCatalog.Register(Zoo.Assembly);
            using var parser = new Parser(s => { s.HelpWriter = null; s.CaseInsensitiveEnumValues = true; });
            var result = parser.ParseArguments(args, Verbs);
            if (result is not Parsed<object> { Value: Verb verb })
                return Help(result);
            try
            {
                verb.Prepare();
                return verb.Run();
            }
            catch (SettingError e)
            {
                Console.Error.WriteLine("error: " + e.For(setting => Settings.Flag(verb.GetType(), setting)));
                return e.ExitCode;
            }
            catch (UserError e)
            {
                Console.Error.WriteLine("error: " + e.Message);
                return e.ExitCode;
            }
            catch (UnknownModelException e)
            {
                Console.Error.WriteLine("error: " + e.Message + " Run 'lnsrun list' to see them all.");
                return 2;
            }
        }

        /// <summary>Help (with each verb's defaults, read from the library's records) or the parse errors; 0 when help was asked for.</summary>
        private static int Help(ParserResult<object> result)
        {
            var errors = ((NotParsed<object>)result).Errors.ToList();
            bool asked = errors.All(e => e.Tag is ErrorType.HelpRequestedError or ErrorType.HelpVerbRequestedError or ErrorType.VersionRequestedError);
            var help = HelpText.AutoBuild(result, h =>
            {
                h.AdditionalNewLineAfterOption = false;
                if (result.TypeInfo.Current is { } type && typeof(Verb).IsAssignableFrom(type) && Activator.CreateInstance(type) is Verb v)
                {
                    var defaults = Settings.Defaults(type, v.Records()).ToList();
                    if (defaults.Count > 0)
                    {
                        h.AddPostOptionsLine("Defaults (the library's): " + string.Join(", ", defaults));
                        h.AddPostOptionsLine("");
                    }
                }
                return HelpText.DefaultParsingErrorsHandler(result, h);
            }, e => e, verbsIndex: !typeof(Verb).IsAssignableFrom(result.TypeInfo.Current));
            (asked ? Console.Out : Console.Error).WriteLine(help);
            return asked ? 0 : 2;
        }
    }
}
