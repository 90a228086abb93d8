#!/usr/bin/env bash
# Rehearses the AWS home on this machine (test/rehearsal/): synthesizes the stage from sst.config.ts
# under Pulumi's mocks, runs the real Lambda bundles against local stand-ins shaped by the
# synthesized resources, and checks every AWS call against the calling function's IAM policy.
set -euo pipefail
cd "$(dirname "$0")/.."
export SST_TELEMETRY_DISABLED=1
bash scripts/install-sst-platform.sh
./node_modules/.bin/vitest run --config test/rehearsal/vitest.config.ts "$@"
