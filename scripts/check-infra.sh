#!/usr/bin/env bash
# Checks the AWS home offline (no AWS, no Pulumi): installs SST's platform if needed, type-checks
# sst.config.ts + infra/ against SST's own component sources, then runs the wiring and bundle
# tests in test/infra/. See docs/deploy.md for what a real deploy adds on top.
set -euo pipefail
cd "$(dirname "$0")/.."

export SST_TELEMETRY_DISABLED=1

sst_version="$(node -p 'require("./node_modules/sst/package.json").version')"
installed_version="$(cat .sst/platform/version 2>/dev/null || true)"
if [[ ! -f .sst/platform/config.d.ts || "$installed_version" != "$sst_version" ]]; then
  echo "› Installing SST ${sst_version} platform offline (.sst/platform)…"
  started=$SECONDS
  # SKIP_DEPENDENCY_CHECK: no Pulumi/Bun downloads (unreachable here). NO_BUN: npm installs the
  # platform's packages. A stage is required even though nothing is deployed.
  SST_SKIP_DEPENDENCY_CHECK=1 SST_NO_BUN=1 ./node_modules/.bin/sst install --stage ci
  echo "  installed in $((SECONDS - started)) s"
fi

echo "› Type-checking sst.config.ts and infra/ with SST's TypeScript ($(.sst/platform/node_modules/.bin/tsc -v))"
started=$SECONDS
.sst/platform/node_modules/.bin/tsc -p tsconfig.infra.json
echo "  ok in $((SECONDS - started)) s"

echo "› Wiring, type-check and bundle tests (test/infra)"
./node_modules/.bin/vitest run --config test/infra/vitest.config.ts "$@"
