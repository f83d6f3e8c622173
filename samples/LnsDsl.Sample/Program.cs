using System;
using TorchSharp;

// The resolved architectures (static data)...
foreach (var spec in new[] { Sample.Lns12.Architecture, Sample.Mix12.Architecture, Sample.Conflicting.Architecture })
    Console.Write(spec.Describe());

// ...and one forward pass of a generated module.
using var model = new Sample.Lns12(seed: 0);
using var noGrad = torch.no_grad();
var tokens = torch.randint(0, 8192, new long[] { 2, 16 }, dtype: torch.ScalarType.Int64);
var logits = model.forward(tokens);
Console.WriteLine($"forward: tokens [{string.Join(", ", tokens.shape)}] -> logits [{string.Join(", ", logits.shape)}]");
