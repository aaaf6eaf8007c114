#!/usr/bin/env bash
# The project's test command (README, .ci/run): test environment, proto lint, generated-code
# check, generator golden tests, build, tests. Extra args go to `swift test`, e.g.
# scripts/test.sh --filter TenantTests
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# Only for dry-running this script (SERVICEPRO_SWIFT="echo swift"); normally plain swift.
SWIFT=${SERVICEPRO_SWIFT:-swift}
step() { printf '\n==> [%4ds] %s\n' "$SECONDS" "$*"; }

step "test environment: PostgreSQL and Python venv"
# Executed, not sourced, so it doesn't see this script's "$@"; its exports come from the env file.
bash scripts/test-env.sh
# shellcheck source=/dev/null
source "${SERVICEPRO_TEST_DIR:-$PWD/.build-test}/env"

step "buf lint (proto/)"
(cd proto && "$BUF" lint)

step "buf breaking (proto/ against the released API, proto/released.binpb)"
(cd proto && "$BUF" breaking --against released.binpb) || {
  echo "error: this change breaks the released API; keep the old field, method or name beside the new one (README, Conventions); a release records a new baseline with scripts/release-api.sh" >&2
  exit 1
}

step "generated code is up to date (codegen/generate.sh --check)"
if [[ -f codegen/generate.sh ]]; then
  bash codegen/generate.sh --check
else
  echo "WARNING: codegen/generate.sh does not exist yet; skipping the generated-code check" >&2
fi

step "codegen golden tests (swift test --package-path codegen)"
$SWIFT test --package-path codegen

step "swift build --build-tests"
$SWIFT build --build-tests

step "swift test --skip-build $*"
$SWIFT test --skip-build "$@"

step "all steps passed"
