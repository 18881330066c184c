#!/usr/bin/env bash
# The main job against the local stack (README): bring up PostgreSQL + TimescaleDB and S3, apply the migrations the
# way deployments do (dotnet ef database update), run the maintenance that is due, and show the status.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" -eq 0 ]; then eng/devstack.sh up; else sudo eng/devstack.sh up; fi
eval "$(eng/devstack.sh env)"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
dotnet tool restore >/dev/null
dotnet build FinanceHub.Data.sln -nologo -v quiet -clp:ErrorsOnly
dotnet ef database update --project src/FinanceHub.Data --no-build
dotnet run --project src/FinanceHub.Data.Cli --no-build -- maintain
dotnet run --project src/FinanceHub.Data.Cli --no-build -- status
