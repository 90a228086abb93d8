#!/usr/bin/env bash
# Checks the AWS home offline (no AWS, no Pulumi service): installs SST's platform if needed,
# type-checks sst.config.ts + infra/ against SST's own component sources, then runs test/infra/:
# the wiring and bundle tests, and the production stage synthesized under Pulumi's mocks held to
# test/infra/synthesis/stage-checks.ts (least privilege, trust, queue policies, alarms, stage
# settings), with each rule shown to fail on a regressed copy. See docs/deploy.md.
set -euo pipefail
cd "$(dirname "$0")/.."

export SST_TELEMETRY_DISABLED=1

bash scripts/install-sst-platform.sh

echo "› Type-checking sst.config.ts and infra/ with SST's TypeScript ($(.sst/platform/node_modules/.bin/tsc -v))"
started=$SECONDS
.sst/platform/node_modules/.bin/tsc -p tsconfig.infra.json
echo "  ok in $((SECONDS - started)) s"

echo "› Wiring, type-check, bundle and synthesized-stage tests (test/infra)"
./node_modules/.bin/vitest run --config test/infra/vitest.config.ts "$@"
