#!/usr/bin/env bash
# The test command (README): runs the whole suite against real servers and ends with the totals,
#   N passed, N failed, N skipped
# With FINANCEHUB_CONNECTION_STRING or TIMESCALE_DB_HOST set, the tests use that server; otherwise this script
# brings up the local stack (eng/devstack.sh, needs root) and uses it.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
artifacts="$root/artifacts"
mkdir -p "$artifacts"

if [ -z "${FINANCEHUB_CONNECTION_STRING:-}" ] && [ -z "${TIMESCALE_DB_HOST:-}" ]; then
  if [ "$(id -u)" -eq 0 ]; then eng/devstack.sh up --replica; else sudo eng/devstack.sh up --replica; fi
  eval "$(eng/devstack.sh env)"
fi

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
echo "== restore and build (Release, warnings are errors)"
dotnet tool restore >/dev/null
dotnet build FinanceHub.Data.sln -c Release -nologo -v quiet -clp:ErrorsOnly

echo "== generated SQL script (migrations-sql/generated/idempotent.sql) is up to date"
script_failed=0
NO_BUILD=1 eng/generate-sql-script.sh "$artifacts/idempotent.sql" >/dev/null
if ! diff -u migrations-sql/generated/idempotent.sql "$artifacts/idempotent.sql" >"$artifacts/idempotent.diff"; then
  echo "FAILED: migrations-sql/generated/idempotent.sql is out of date with the migrations; run eng/generate-sql-script.sh and commit it:"
  head -40 "$artifacts/idempotent.diff"
  script_failed=1
fi

echo "== migration bundle"
# The bundle that deployments apply; MigrationBundleTests applies it to fresh databases, twice and concurrently.
dotnet ef migrations bundle --project src/FinanceHub.Data --configuration Release --no-build \
  --output "$artifacts/efbundle" --force >"$artifacts/bundle.log" 2>&1 || { cat "$artifacts/bundle.log"; exit 1; }
export FINANCEHUB_EFBUNDLE="$artifacts/efbundle"

echo "== tests"
set +e
dotnet test --solution FinanceHub.Data.sln -c Release --no-build 2>&1 | tee "$artifacts/test.log"
status=${PIPESTATUS[0]}
set -e

# Microsoft.Testing.Platform prints one summary per run: total / failed / succeeded / skipped.
summary=$(sed -n '/Test run summary/,$p' "$artifacts/test.log")
passed=$(echo "$summary" | awk '/succeeded:/{s+=$2} END{print s+0}')
failed=$(echo "$summary" | awk '/failed:/{s+=$2} END{print s+0}')
skipped=$(echo "$summary" | awk '/skipped:/{s+=$2} END{print s+0}')
if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then failed=1; fi
if [ "$script_failed" -ne 0 ]; then failed=$((failed + 1)); status=1; fi
echo "$passed passed, $failed failed, $skipped skipped"
exit "$status"
