#!/usr/bin/env bash
# Installs SST's platform (.sst/platform: component sources, @pulumi/*, SST's TypeScript) offline,
# unless the installed one already matches the `sst` package. Used by check:infra and rehearse:aws.
set -euo pipefail
cd "$(dirname "$0")/.."
export SST_TELEMETRY_DISABLED=1

sst_version="$(node -p 'require("./node_modules/sst/package.json").version')"
installed_version="$(cat .sst/platform/version 2>/dev/null || true)"
if [[ ! -f .sst/platform/config.d.ts || ! -d .sst/platform/node_modules/@pulumi/pulumi || "$installed_version" != "$sst_version" ]]; then
  echo "› Installing SST ${sst_version} platform offline (.sst/platform)…"
  started=$SECONDS
  # SKIP_DEPENDENCY_CHECK: no Pulumi/Bun downloads (unreachable here). NO_BUN: npm installs the
  # platform's packages. A stage is required even though nothing is deployed.
  SST_SKIP_DEPENDENCY_CHECK=1 SST_NO_BUN=1 ./node_modules/.bin/sst install --stage ci
  echo "  installed in $((SECONDS - started)) s"
fi
