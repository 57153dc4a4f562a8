#!/usr/bin/env bash
# Runs the whole test suite (Release build; the tests build their own tiny checkpoints) and ends with
# one summary line "N passed, N failed[, N skipped]".
set -uo pipefail
cd "$(dirname "$0")"
results="$(pwd)/.build/test-results"
rm -rf "$results"; mkdir -p "$results"
# TorchSharp 0.107 makes temporary Scalars (e.g. the alpha of every tensor addition) whose finalizers can free
# them while libtorch still reads them (dotnet/TorchSharp#1434); a 256 MiB gen-0 budget makes garbage
# collections, and so that race, rare. MoePrune's own code keeps its Scalars alive (Native/Scalars.cs, MP0001).
export DOTNET_GCgen0size="${DOTNET_GCgen0size:-0x10000000}"
dotnet test tests/MoePrune.Tests/MoePrune.Tests.csproj -c Release --nologo \
  --logger "console;verbosity=minimal" --logger "trx;LogFileName=results.trx" --results-directory "$results" "$@"
rc=$?
trx="$results/results.trx"
if [ -f "$trx" ]; then
  counters=$(grep -o '<Counters [^>]*>' "$trx" | head -n 1)
  get() { echo "$counters" | grep -o " $1=\"[0-9]*\"" | grep -o '[0-9]*'; }
  passed=$(get passed); failed=$(get failed); total=$(get total); executed=$(get executed)
  skipped=$(( ${total:-0} - ${executed:-0} ))
  echo "${passed:-0} passed, ${failed:-0} failed, ${skipped} skipped"
fi
exit $rc
