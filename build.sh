#!/usr/bin/env bash
# Builds the QRadar app package dist/mimecast-qradar-<version>.zip.
#
#   bash build.sh            vet, test, then build and package
#   bash build.sh package    build and package only (used by the package test)
#
# The binary is linked fully statically (cgo for mattn/go-sqlite3, netgo and
# osusergo) so it runs on QRadar's RHEL 8 base image (glibc 2.28) whatever
# glibc the build machine has. DIST_DIR overrides the output directory.
set -euo pipefail
cd "$(dirname "$0")"

mode=${1:-all}
version=$(sed -n 's/^  "version": "\(.*\)",$/\1/p' qradar_manifest/manifest.json)
[ -n "$version" ] || { echo "build.sh: no version in qradar_manifest/manifest.json" >&2; exit 1; }
dist=${DIST_DIR:-dist}
mkdir -p "$dist"
dist=$(cd "$dist" && pwd)

if [ "$mode" = all ]; then
  go vet ./...
  go test -count=1 ./...
fi

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT

mkdir -p "$stage/app" "$stage/container"
cp qradar_manifest/manifest.json "$stage/manifest.json"
cp -R templates static "$stage/app/"
cp -R container/build container/run container/service "$stage/container/"
rm -f "$stage/container/service/README.txt"

CGO_ENABLED=1 GOOS=linux GOARCH=amd64 go build -trimpath \
  -tags 'osusergo netgo sqlite_omit_load_extension' \
  -ldflags "-s -w -X main.version=$version -linkmode external -extldflags -static" \
  -o "$stage/container/service/mimecast-qradar" ./app/cmd/mimecast-qradar

# A dynamic binary would need the build machine's glibc on QRadar: refuse it.
if readelf -l "$stage/container/service/mimecast-qradar" | grep -q 'Requesting program interpreter' ||
   readelf -d "$stage/container/service/mimecast-qradar" 2>/dev/null | grep -q NEEDED; then
  echo "build.sh: the binary is not statically linked" >&2
  exit 1
fi
chmod 755 "$stage/container/service/mimecast-qradar" "$stage"/container/build/*.sh "$stage"/container/run/*.sh

out="$dist/mimecast-qradar-$version.zip"
rm -f "$out"
(cd "$stage" && zip -qrX "$out" manifest.json app container)
echo "$out"
