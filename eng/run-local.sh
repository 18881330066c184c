#!/usr/bin/env bash
# The main job against the local stack (README): bring up PostgreSQL + TimescaleDB and S3, apply the migrations the
# way deployments do (dotnet ef database update), then the product at work on a deterministic demo data set (a year of
# one-minute prices through the bulk ingest, maintenance, a week of daily candles, an archive round trip checked by
# md5), and the status. Safe to run again: loaded prices are not loaded twice.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" -eq 0 ]; then eng/devstack.sh up; else sudo eng/devstack.sh up; fi
eval "$(eng/devstack.sh env)"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
dotnet tool restore >/dev/null
dotnet build FinanceHub.Data.sln -nologo -v quiet -clp:ErrorsOnly
dotnet ef database update --project src/FinanceHub.Data --no-build
dotnet run --project src/FinanceHub.Data.Cli --no-build -- demo
dotnet run --project src/FinanceHub.Data.Cli --no-build -- status
