// netstandard2.0 lacks the type that C# 9 records and init accessors need (BlockProgram.cs's records).
namespace System.Runtime.CompilerServices
{
    internal static class IsExternalInit
    {
    }
}
