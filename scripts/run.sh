#!/usr/bin/env bash
# Build and start platform-server: scripts/run.sh [platform-server options]
# The first start bootstraps .servicepro/ in the repo root (git-ignored): owner.token (the
# owner's API token), bridge.token (for twilio-bridge) and an spctl context pointing at this
# server, so `swift run spctl ...` works right away.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
exec swift run platform-server "$@"
