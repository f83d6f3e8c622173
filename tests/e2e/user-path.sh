#!/usr/bin/env bash
# The path of a new user, end to end, as CI runs it (tests/LnsDsl.IntegrationTests/UserPathTests.cs):
#   1. pack the library (LnsDsl: runtime, attributes, generator and analyzers), the tool (LnsDsl.Runner, slim: no
#      LibTorch) and the template (LnsDsl.Templates) into a local feed, with one unique version, from a copy of the
#      sources (so that packing never touches this tree's build outputs);
#   2. in a new, empty HOME (DOTNET_CLI_HOME, tool and template caches of its own; the NuGet package cache is shared
#      for third-party packages, as CI allows): dotnet new install, dotnet new lnsdsl -n MyModels, dotnet build,
#      a conflicting attribute added and its warning checked by ID, dotnet tool restore, dotnet lnsrun train MyModel,
#      dotnet lnsrun eval, a version mismatch refused;
#   3. outside any project: lnsrun backend install cpu, then lnsrun train Lns6x128.
# Usage: tests/e2e/user-path.sh WORK_DIR   (prints the session; exits non-zero at the first failure)
set -euo pipefail
repo="$(cd "$(dirname "$0")/../.." && pwd)"
work="$(mkdir -p "${1:?usage: user-path.sh WORK_DIR}" && cd "$1" && pwd)"
version="0.1.0-e2e.$(date +%s)"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1
export NUGET_PACKAGES="${NUGET_PACKAGES:-$HOME/.nuget/packages}"   # shared third-party packages (TorchSharp, LibTorch)
feed="$work/feed"; src="$work/src"
mkdir -p "$feed" "$src"
# The shared package cache keeps third-party packages; this run's own versions of ours leave with it.
cleanup() { rm -rf "$NUGET_PACKAGES"/lnsdsl/"$version"* "$NUGET_PACKAGES"/lnsdsl.runner/"$version"* "$NUGET_PACKAGES"/lnsdsl.templates/"$version"*; }
trap cleanup EXIT
show() { printf '\n$ %s\n' "$*"; "$@"; }

echo "== packing LnsDsl, LnsDsl.Runner and LnsDsl.Templates $version"
(cd "$repo" && git ls-files -co --exclude-standard -z | xargs -0 -I{} cp --parents {} "$src")
(cd "$src"
 dotnet pack src/LnsDsl/LnsDsl.csproj -c Release -p:LnsDslVersion="$version" -o "$feed" -v quiet -nologo
 dotnet pack src/LnsDsl.Cli/LnsDsl.Cli.csproj -c Release -p:LnsTorchBackend=none -p:LnsDslVersion="$version" -o "$feed" -v quiet -nologo
 dotnet pack templates/LnsDsl.Templates/LnsDsl.Templates.csproj -c Release -p:LnsDslVersion="$version" -o "$feed" -v quiet -nologo)
# A second library version, for the mismatch check: a project built against it, run by this version's tool.
(cd "$src" && dotnet pack src/LnsDsl/LnsDsl.csproj -c Release -p:LnsDslVersion="$version-b" -o "$feed" -v quiet -nologo)
ls -l "$feed"
size=$(stat -c %s "$feed/LnsDsl.Runner.$version.nupkg")
echo "tool package: $size bytes"
[ "$size" -lt 250000000 ] || { echo "the tool package exceeds NuGet's 250 MB limit"; exit 1; }

# A new user: an empty HOME with nothing installed, NuGet reading the local feed beside nuget.org.
export HOME="$work/home" DOTNET_CLI_HOME="$work/home" LNSDSL_CACHE="$work/home/.cache/lnsdsl"
mkdir -p "$HOME" "$work/user"
cat > "$work/user/nuget.config" <<EOF
<?xml version="1.0" encoding="utf-8"?>
<configuration>
  <packageSources>
    <add key="local" value="$feed" />
    <add key="nuget.org" value="https://api.nuget.org/v3/index.json" />
  </packageSources>
</configuration>
EOF
# (no nuget.config in HOME: lnsrun backend install uses the one of the directory it runs in)
# A small corpus of 40 documents (the built-in ones would be fetched with npm).
corpus="$work/corpus.jsonl"
for i in $(seq 1 40); do echo "{\"text\": \"Document $i. The quick brown fox jumps over the lazy dog $i times, and the dog sleeps.\"}"; done > "$corpus"
cd "$work/user"
show dotnet new install "$feed/LnsDsl.Templates.$version.nupkg"
show dotnet new lnsdsl -n MyModels
cd MyModels
show dotnet build -c Release -nologo -v quiet -clp:NoSummary
# A combination the paper warns against: LNS with depth-scaled output initialisation is LNS101 (an error by the
# template's .editorconfig), reported by ID at build time.
sed -i 's/\[Init(Std = 0.02)\]/[Init(Std = 0.02, Output = OutputInit.ScaledByDepth)]/' MyModel.cs
if dotnet build -c Release -nologo -v quiet > build.log 2>&1; then echo "expected LNS101 to fail the build"; cat build.log; exit 1; fi
grep -q "error LNS101" build.log || { echo "LNS101 not reported:"; cat build.log; exit 1; }
echo "LNS101 reported as an error (.editorconfig): $(grep -m1 -o 'error LNS101[^[]*' build.log)"
sed -i 's/\[Init(Std = 0.02, Output = OutputInit.ScaledByDepth)\]/[Init(Std = 0.02)]/' MyModel.cs
show dotnet tool restore
show dotnet lnsrun train MyModel --steps 3 --batch 2 --seq 32 --warmup 1 --eval-every 3 --eval-batches 1 --data "$corpus" --tokenizer bytes --out runs/MyModel
show dotnet lnsrun eval --checkpoint runs/MyModel --batches 1 --batch 2
show dotnet lnsrun describe MyModel
# A project built against another LnsDsl than the tool: refused, naming both versions.
sed -i "s/Include=\"LnsDsl\" Version=\"$version\"/Include=\"LnsDsl\" Version=\"$version-b\"/" MyModels.csproj
if dotnet lnsrun list > mismatch.log 2>&1; then echo "expected a version mismatch to be refused"; cat mismatch.log; exit 1; fi
grep -q "built against LnsDsl $version-b, this lnsrun is LnsDsl.Runner $version" mismatch.log || { cat mismatch.log; exit 1; }
echo "mismatch refused: $(grep -o 'is built against[^;]*' mismatch.log)"
sed -i "s/Include=\"LnsDsl\" Version=\"$version-b\"/Include=\"LnsDsl\" Version=\"$version\"/" MyModels.csproj

echo "== outside any project"
mkdir -p "$work/elsewhere" && cd "$work/elsewhere"
cp "$work/user/nuget.config" .
show dotnet tool install --tool-path "$work/tools" LnsDsl.Runner --version "$version" --add-source "$feed"
if "$work/tools/lnsrun" train Lns6x128 --steps 1 > nobackend.log 2>&1; then echo "expected lnsrun to ask for a backend"; exit 1; fi
grep -q "lnsrun backend install cpu" nobackend.log && echo "without a backend: $(grep -o 'needs LibTorch[^;]*' nobackend.log)"
show "$work/tools/lnsrun" backend install cpu
show "$work/tools/lnsrun" train Lns6x128 --steps 2 --batch 2 --seq 32 --warmup 1 --eval-every 2 --eval-batches 1 --data "$corpus" --tokenizer bytes --out runs/zoo
echo "== the user path passed ($version)"
