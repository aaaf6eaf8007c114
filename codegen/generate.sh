#!/usr/bin/env bash
# Regenerates every committed generated file from proto/ (and the vendored gRPC protos).
#   codegen/generate.sh          regenerate
#   codegen/generate.sh --check  regenerate, then fail if that changed anything (CI)
set -euo pipefail
cd "$(dirname "$0")/.."
BUF=${BUF:-buf}
command -v "$BUF" >/dev/null || { echo "error: buf not found; run scripts/test-env.sh or set BUF" >&2; exit 1; }

GENERATED=(
  codegen/Sources/ServiceProCodegen/Generated
  Sources/ServiceProAPI/Generated
  Sources/spctl/Generated
  Sources/RPCRuntime/Generated
)

BIN=$(swift build --package-path codegen --show-bin-path)
export PATH="$BIN:$PATH"

echo "==> protoc-gen-swift"
swift build --package-path codegen --product protoc-gen-swift
# The generator reads the options through Swift types generated from options.proto, so those
# come first, then the generator is built with them.
rm -rf "${GENERATED[0]}"
"$BUF" generate proto --template codegen/buf.gen.options.yaml --path proto/servicepro/options

echo "==> protoc-gen-servicepro"
swift build --package-path codegen --product protoc-gen-servicepro

echo "==> generating"
rm -rf "${GENERATED[@]:1}"
"$BUF" generate proto --template codegen/buf.gen.api.yaml
"$BUF" generate codegen/vendor --template codegen/buf.gen.grpc.yaml

if [[ "${1:-}" == "--check" ]]; then
  changes=$(git status --porcelain -- "${GENERATED[@]}")
  if [[ -n "$changes" ]]; then
    echo "error: generated code is stale; run codegen/generate.sh and commit the result:" >&2
    echo "$changes" >&2
    exit 1
  fi
  echo "generated code is up to date"
fi
