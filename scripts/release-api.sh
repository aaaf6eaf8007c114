#!/usr/bin/env bash
# Records the API in proto/ as released: proto/released.binpb, the image that `buf breaking`
# checks every later change against (scripts/test.sh). Partners build clients from a release, so
# run this only when a version is released, and commit the result with the release.
#   scripts/release-api.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
if [[ -z "${BUF:-}" && -f .build-test/env ]]; then
  # shellcheck source=/dev/null
  source .build-test/env
fi
BUF=${BUF:-buf}
command -v "$BUF" >/dev/null || { echo "error: buf not found; run scripts/test-env.sh or set BUF" >&2; exit 1; }
(cd proto && "$BUF" lint && "$BUF" build -o released.binpb)
echo "recorded proto/released.binpb; commit it with the release"
