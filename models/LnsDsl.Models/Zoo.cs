using System.Reflection;

namespace LnsDsl.Models
{
    /// <summary>The model zoo assembly. <c>ModelCatalog.Register(Zoo.Assembly)</c> makes its models findable by name.</summary>
    public static class Zoo
    {
        /// <summary>This assembly.</summary>
        public static Assembly Assembly => typeof(Zoo).Assembly;

        /// <summary>The default model of the runner: small enough to train for a few minutes on 2 CPU cores.</summary>
        public const string Default = nameof(Lns6x128);
    }
}
