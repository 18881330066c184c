#!/usr/bin/env bash
# The test command (README): runs the whole suite against real servers and ends with the totals,
#   N passed, N failed, N skipped
#
#   eng/test.sh                      the Apache edition (Debian's TimescaleDB 2.19.3) on the local stack
#   eng/test.sh --edition community --timescaledb-source PATH/timescaledb-2.29.2.tar.xz [--timescaledb-source ...]
#                                    the community edition, built from release source tarballs (eng/devstack.sh)
#   eng/test.sh --edition apache --edition community --timescaledb-source ...
#                                    both, one after the other, with the totals of each and their sum (CI)
#
# Against the local stack every edition gets its own server, standby and S3, and a test that skips there must be
# listed for that edition, with the reason, in tests/expected-skips.tsv: any other skip fails the run, and so does a
# server whose edition is neither apache nor community, or not the one asked for.
# With FINANCEHUB_CONNECTION_STRING or TIMESCALE_DB_HOST set, the tests use that server once (no skip list: what
# skips depends on the server) and no stack is started.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
artifacts="$root/artifacts"
mkdir -p "$artifacts"

editions=()
sources=()
while [ $# -gt 0 ]; do
  case "$1" in
    --edition) editions+=("${2:?--edition needs apache or community}"); shift 2 ;;
    --timescaledb-source) sources+=(--timescaledb-source "${2:?--timescaledb-source needs a path}"); shift 2 ;;
    *) echo "usage: eng/test.sh [--edition apache|community ...] [--timescaledb-source PATH.tar.xz ...]" >&2; exit 2 ;;
  esac
done
own_server=0
if [ -n "${FINANCEHUB_CONNECTION_STRING:-}" ] || [ -n "${TIMESCALE_DB_HOST:-}" ]; then
  own_server=1
  [ ${#editions[@]} -eq 0 ] || { echo "eng/test.sh: --edition picks a local stack; unset FINANCEHUB_CONNECTION_STRING and TIMESCALE_DB_HOST to use it" >&2; exit 2; }
  editions=(server)
fi
[ ${#editions[@]} -gt 0 ] || editions=(apache)

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
run_started=$(date +%s)
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

# server_psql SQL [DATABASE]: psql against the server the tests use (TIMESCALE_DB_* variables, else the keys of
# FINANCEHUB_CONNECTION_STRING).
server_psql() {
  local host=${TIMESCALE_DB_HOST:-} port=${TIMESCALE_DB_PORT:-5432} db=${TIMESCALE_DB_NAME:-postgres} user=${TIMESCALE_DB_USER:-postgres}
  local password=${TIMESCALE_DB_PASSWORD:-} pair key value
  if [ -n "${FINANCEHUB_CONNECTION_STRING:-}" ]; then
    IFS=';' read -ra pairs <<<"$FINANCEHUB_CONNECTION_STRING"
    for pair in "${pairs[@]}"; do
      key=$(echo "${pair%%=*}" | tr '[:upper:]' '[:lower:]' | tr -d ' '); value=${pair#*=}
      case "$key" in host|server) host=$value ;; port) port=$value ;; database) db=$value ;;
                     username|user|userid) user=$value ;; password) password=$value ;; esac
    done
  fi
  PGHOST=$host PGPORT=$port PGDATABASE=${2:-$db} PGUSER=$user PGPASSWORD=$password PGCONNECT_TIMEOUT=10 psql -X -qAt -v ON_ERROR_STOP=1 -c "$1"
}

status=0
totals=()
sum_passed=0; sum_failed=0; sum_skipped=0
for edition in "${editions[@]}"; do
  started=$(date +%s)
  results="$artifacts/test-results/$edition"
  rm -rf "$results"; mkdir -p "$results"
  # In a subshell of its own (its environment is the edition's), with errexit on inside: it must not be part of an
  # && / || list, which would switch errexit off for everything in it.
  set +e
  (
    set -euo pipefail
    if [ "$own_server" = 0 ]; then
      echo "== local stack: $edition edition"
      if [ "$(id -u)" -eq 0 ]; then eng/devstack.sh up --replica --edition "$edition" "${sources[@]+"${sources[@]}"}"
      else sudo eng/devstack.sh up --replica --edition "$edition" "${sources[@]+"${sources[@]}"}"; fi
      eval "$(eng/devstack.sh --edition "$edition" env)"
    fi
    # What the server says it is, before anything runs (the tests decide what to skip from the same setting).
    # The license setting exists once the extension is loaded in a database: a scratch one is made for the question.
    probe="financehub_edition_probe_$$"
    license=$(server_psql "CREATE DATABASE $probe" postgres 2>"$results/edition.err" \
              && server_psql "CREATE EXTENSION IF NOT EXISTS timescaledb;
                              SELECT coalesce(current_setting('timescaledb.license', true), 'none') || ' (TimescaleDB '
                                     || (SELECT extversion FROM pg_extension WHERE extname = 'timescaledb') || ', PostgreSQL '
                                     || current_setting('server_version') || ')'" "$probe" 2>>"$results/edition.err") \
      || license="none (the probe failed: $(tr '\n' ' ' <"$results/edition.err"))"
    server_psql "DROP DATABASE IF EXISTS $probe" postgres >/dev/null 2>&1 || true
    echo "== server: $license"
    case "$edition:${license%% *}" in
      apache:apache|community:timescale|server:apache|server:timescale) ;;
      *) echo "FAILED: edition detection: asked for '$edition', the server reports '$license' (timescaledb.license must be apache or timescale)"; exit 3 ;;
    esac
    echo "== tests ($edition edition)"
    dotnet test --solution FinanceHub.Data.sln -c Release --no-build \
      --results-directory "$results" --report-xunit-xml --report-xunit-xml-filename results.xml 2>&1 | tee "$results/test.log"
    exit "${PIPESTATUS[0]}"
  )
  run_status=$?
  set -e
  check=()
  [ "$own_server" = 1 ] || check=(--expected-skips tests/expected-skips.tsv --edition "$edition")
  set +e
  report=$(python3 eng/test-results.py "$results/results.xml" "${check[@]+"${check[@]}"}")
  report_status=$?
  set -e
  echo "$report"
  counts=$(echo "$report" | tail -n 1)
  read -r passed failed skipped <<<"$(echo "$counts" | sed -E 's/^[a-z]+: ([0-9]+) passed, ([0-9]+) failed, ([0-9]+) skipped.*/\1 \2 \3/')"
  if ! [[ "$passed" =~ ^[0-9]+$ ]]; then passed=0; failed=1; skipped=0; fi
  if { [ "$run_status" -ne 0 ] || [ "$report_status" -ne 0 ]; } && [ "$failed" -eq 0 ]; then failed=1; fi
  if [ "$report_status" -ne 0 ] || [ "$run_status" -ne 0 ]; then status=1; fi
  sum_passed=$((sum_passed + passed)); sum_failed=$((sum_failed + failed)); sum_skipped=$((sum_skipped + skipped))
  totals+=("$edition: $passed passed, $failed failed, $skipped skipped ($(( $(date +%s) - started )) s)")
done

if [ "$script_failed" -ne 0 ]; then sum_failed=$((sum_failed + 1)); status=1; fi
echo "== totals ($(( $(date +%s) - run_started )) s in all; each edition's time includes bringing up its stack)"
printf '%s\n' "${totals[@]}"
echo "$sum_passed passed, $sum_failed failed, $sum_skipped skipped"
exit "$status"
