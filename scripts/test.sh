#!/usr/bin/env bash
# The test command: installs what the tests need when missing (Debian:
# apt-get), then go vet, a gofmt check and every test with the race
# detector. CI runs exactly this (.ci/run).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/test-deps.sh

echo "== go vet"
go vet ./...

echo "== gofmt"
unformatted="$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './.git/*'))"
if [ -n "$unformatted" ]; then
  echo "gofmt needed on:"; echo "$unformatted"; exit 1
fi

echo "== go test -race"
go test -race -count=1 -timeout 20m "$@" ./...
