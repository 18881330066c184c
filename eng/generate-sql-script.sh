#!/usr/bin/env bash
# Writes the idempotent SQL script of the current migrations (what DBAs review and run with psql) to
# migrations-sql/generated/idempotent.sql, or to the path given. CI regenerates it and fails when the committed
# file differs: after changing a migration or its SQL, run this and commit the result.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-migrations-sql/generated/idempotent.sql}
mkdir -p "$(dirname "$out")"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
dotnet tool restore >/dev/null
# Scripting needs no database: unset the connection so nothing is contacted.
env -u FINANCEHUB_CONNECTION_STRING -u TIMESCALE_DB_HOST \
  dotnet ef migrations script --idempotent --project src/FinanceHub.Data --configuration "${CONFIGURATION:-Release}" ${NO_BUILD:+--no-build} \
  --output "$out" >/dev/null
echo "wrote $out"
