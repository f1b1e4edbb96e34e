#!/usr/bin/env bash
# End-to-end benchmark of issue #8 (see BENCHMARKS.md): the Mimecast simulator
# serves a SIEM backlog from its own process, `mimecast-qradar collect --once`
# collects it into a local TCP syslog listener, and the same files are fetched
# by the "floor" (download, decompress, split lines, nothing else).
#
#   scripts/bench.sh              1M records, API 2.0 and 1.0, 2 passes each (~2-3 min)
#   scripts/bench.sh --scale      100k, 1M and 3M records, to show linear growth (~8 min)
#   scripts/bench.sh --profile    also write CPU and allocation profiles to bench-profiles/
#   scripts/bench.sh -- <flags>   pass flags to `mqbench run` (e.g. -- --records 3M --api 2.0 --accounts 4)
#
# Needs Go and a C compiler (the SQLite driver uses cgo), like the build.
set -euo pipefail
cd "$(dirname "$0")/.."

records=1M
apis=2.0,1.0
runs=2
extra=()
while [ $# -gt 0 ]; do
  case "$1" in
    --scale) records=100k,1M,3M ;;
    --profile) extra+=(--profile "$PWD/bench-profiles") ;;
    --) shift; extra+=("$@"); break ;;
    -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
    *) echo "bench.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done

command -v go >/dev/null || { echo "bench.sh: Go is required" >&2; exit 1; }
command -v gcc >/dev/null || command -v cc >/dev/null || { echo "bench.sh: a C compiler is required (cgo)" >&2; exit 1; }

bin=$(mktemp -d)
trap 'rm -rf "$bin"' EXIT

# The binary is built as build.sh builds it for QRadar: cgo, static, stripped.
flags=(-trimpath -tags 'osusergo netgo sqlite_omit_load_extension')
echo "building mimecast-qradar (as build.sh does) and the benchmark driver ..." >&2
if ! CGO_ENABLED=1 go build "${flags[@]}" \
    -ldflags "-s -w -X main.version=bench -linkmode external -extldflags -static" \
    -o "$bin/mimecast-qradar" ./app/cmd/mimecast-qradar 2>"$bin/static.log"; then
  echo "bench.sh: a static build failed (no static libc?); measuring a dynamically linked one" >&2
  CGO_ENABLED=1 go build "${flags[@]}" -ldflags "-s -w -X main.version=bench" \
    -o "$bin/mimecast-qradar" ./app/cmd/mimecast-qradar
fi
CGO_ENABLED=1 go build "${flags[@]}" -o "$bin/mqbench" ./app/internal/bench/cmd/mqbench

"$bin/mqbench" run --bin "$bin/mimecast-qradar" --records "$records" --api "$apis" --runs "$runs" "${extra[@]}"
