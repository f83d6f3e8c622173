// Placement moved into LnsDsl.Attributes (with the other facts the generator and the runtime share):
// code compiled against an earlier LnsDsl.dll still finds it.
[assembly: System.Runtime.CompilerServices.TypeForwardedTo(typeof(LnsDsl.Placement))]
