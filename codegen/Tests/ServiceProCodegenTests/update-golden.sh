#!/usr/bin/env bash
# Rebuilds the generator's golden-test input and expected output.
#   codegen/Tests/ServiceProCodegenTests/update-golden.sh
# 1. Fixtures/fixture.binpb: a FileDescriptorSet (imports and source info included) of
#    Fixtures/proto/ plus proto/servicepro/options/v1/options.proto, built by buf in a temp module
#    root that holds both.
# 2. Fixtures/golden/: rewritten by running the golden tests with UPDATE_GOLDEN=1.
# Review the golden diff before committing: it is the generator's output for the fixture.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../../.." && pwd)"
FIXTURES="$HERE/Fixtures"
if [[ -z "${BUF:-}" && -f "$ROOT/.build-test/env" ]]; then
  # shellcheck source=/dev/null
  source "$ROOT/.build-test/env"
fi
BUF=${BUF:-buf}
command -v "$BUF" >/dev/null || { echo "error: buf not found; run scripts/test-env.sh or set BUF" >&2; exit 1; }

MODULE=$(mktemp -d)
trap 'rm -rf "$MODULE"' EXIT
cp -R "$FIXTURES/proto/." "$MODULE/"
mkdir -p "$MODULE/servicepro/options/v1"
cp "$ROOT/proto/servicepro/options/v1/options.proto" "$MODULE/servicepro/options/v1/"
cat >"$MODULE/buf.yaml" <<'YAML'
version: v2
modules:
  - path: .
YAML

echo "==> Fixtures/fixture.binpb"
"$BUF" build "$MODULE" --as-file-descriptor-set -o "$FIXTURES/fixture.binpb"

echo "==> Fixtures/golden (UPDATE_GOLDEN=1 swift test)"
UPDATE_GOLDEN=1 swift test --package-path "$ROOT/codegen" --filter GoldenTests
echo "golden files updated; review: git status -- $FIXTURES"
