#!/usr/bin/env bash
# Local stack for FinanceHub.Data: PostgreSQL 17 + TimescaleDB and an S3-compatible server (moto), all on 127.0.0.1,
# running from a Debian 13 (trixie) root made with debootstrap. No Docker engine is needed. Two editions of TimescaleDB:
#
#   apache      Debian's postgresql-17-timescaledb (2.19.3, timescaledb.license = apache); the default
#   community   the community edition (timescaledb.license = timescale: continuous aggregates, compression, jobs),
#               built from release source tarballs (Debian does not ship it) in a copy of the root, cached
#
#   eng/devstack.sh up [--replica] [--edition E] [--timescaledb-source PATH.tar.xz ...]
#                            provision (first time, cached) and start the servers; idempotent. --replica adds a
#                            streaming standby (pg_basebackup) for read-replica routing. For the community edition
#                            give the public release tarballs (timescaledb-2.19.3.tar.xz, as `git archive` of a tag
#                            makes them); each is built once per machine, several may be given (an upgrade test needs
#                            an older release beside the newest), and the newest is installed last
#   eng/devstack.sh replica stop|start|reset|status   the standby (its tests stop and start it)
#   eng/devstack.sh down     stop the edition's servers and the S3 servers (the roots and database files stay)
#   eng/devstack.sh status   say what runs where
#   eng/devstack.sh env      print the environment variables that point the project at the edition's stack
#   eng/devstack.sh reset    stop, then delete the edition's database files (the cached roots stay)
# --edition may stand anywhere on the line; DEVSTACK_EDITION sets it for every call (`env` exports it).
#
# Settings (environment):
#   DEVSTACK_EDITION   apache or community                     (default apache)
#   DEVSTACK_ROOT      where the trixie root is cached         (default /var/cache/financehub-devstack/trixie;
#                      the community edition's root is the same path with -community)
#   DEVSTACK_PG_PORT   PostgreSQL port on 127.0.0.1            (default 55432; community 55442)
#   DEVSTACK_REPLICA_PORT  the standby's port on 127.0.0.1     (default 55435; community 55445)
#   DEVSTACK_S3_PORT   moto_server port on 127.0.0.1           (default 55433; shared by both editions)
#   DEVSTACK_S3_AUTH_PORT  a second moto_server that enforces credentials, for tests of wrong ones (default 55434)
#   DEVSTACK_MIRROR    Debian mirror for debootstrap           (default: read from the host's apt sources)
# Both servers are configured as Timescale's own images configure theirs: 16 TimescaleDB background workers (32
# worker processes), so policy jobs start as soon as they are due.
# To use an existing server instead, set FINANCEHUB_CONNECTION_STRING (or the TIMESCALE_DB_*
# variables) and skip this script; see README.md.
set -euo pipefail

EDITION=${DEVSTACK_EDITION:-apache}
WANT_REPLICA=0
TS_SOURCES=()
ARGS=()
while [ $# -gt 0 ]; do
  case "$1" in
    --edition) EDITION=${2:?--edition needs apache or community}; shift 2 ;;
    --edition=*) EDITION=${1#--edition=}; shift ;;
    --timescaledb-source) TS_SOURCES+=("${2:?--timescaledb-source needs a path to a .tar.xz}"); shift 2 ;;
    --timescaledb-source=*) TS_SOURCES+=("${1#--timescaledb-source=}"); shift ;;
    --replica) WANT_REPLICA=1; shift ;;
    *) ARGS+=("$1"); shift ;;
  esac
done
set -- "${ARGS[@]+"${ARGS[@]}"}"

BASE_ROOT=${DEVSTACK_ROOT:-/var/cache/financehub-devstack/trixie}
case "$EDITION" in
  apache)    ROOT=$BASE_ROOT; PG_PORT=${DEVSTACK_PG_PORT:-55432}; REPLICA_PORT=${DEVSTACK_REPLICA_PORT:-55435} ;;
  community) ROOT=$BASE_ROOT-community; PG_PORT=${DEVSTACK_PG_PORT:-55442}; REPLICA_PORT=${DEVSTACK_REPLICA_PORT:-55445} ;;
  *) printf 'devstack: ERROR: unknown edition "%s": use --edition apache (Debian'"'"'s package) or --edition community\n' "$EDITION" >&2; exit 2 ;;
esac
S3_PORT=${DEVSTACK_S3_PORT:-55433}
S3_AUTH_PORT=${DEVSTACK_S3_AUTH_PORT:-55434}
PG_PASSWORD=financehub
PG_DATA=/srv/financehub/pgdata          # inside the root
REPLICA_DATA=/srv/financehub/standby    # inside the root
LOG_DIR=/srv/financehub/log             # inside the root
PACKAGES=(postgresql-17 postgresql-17-timescaledb python3-moto python3-flask python3-flask-cors)

say()  { printf 'devstack: %s\n' "$*" >&2; }
fail() { printf 'devstack: ERROR: %s\n' "$*" >&2; exit 1; }

need_root() {
  [ "$(id -u)" -eq 0 ] || fail "must run as root (debootstrap and chroot need it); try: sudo $0 $*"
}

host_mirror() {
  if [ -n "${DEVSTACK_MIRROR:-}" ]; then echo "$DEVSTACK_MIRROR"; return; fi
  local uri=""
  if compgen -G '/etc/apt/sources.list.d/*.sources' >/dev/null; then
    uri=$(grep -h '^URIs:' /etc/apt/sources.list.d/*.sources | awk '{print $2}' | grep -v -- '-security' | head -n1 || true)
  fi
  if [ -z "$uri" ] && [ -f /etc/apt/sources.list ]; then
    uri=$(awk '/^deb /{print $2}' /etc/apt/sources.list | grep -v -- '-security' | head -n1 || true)
  fi
  [ -n "$uri" ] || fail "cannot find a Debian mirror in the host's apt sources; set DEVSTACK_MIRROR"
  echo "$uri"
}

in_root() { chroot "$ROOT" /usr/bin/env -i PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin HOME=/root LANG=C.UTF-8 "$@"; }
as_postgres() { chroot --userspec=postgres:postgres "$ROOT" /usr/bin/env -i PATH=/usr/lib/postgresql/17/bin:/usr/bin:/bin HOME=/var/lib/postgresql LANG=C.UTF-8 "$@"; }

mount_proc() { mountpoint -q "$ROOT/proc" || mount -t proc proc "$ROOT/proc"; }
umount_proc() { mountpoint -q "$ROOT/proc" && umount "$ROOT/proc" || true; }

# The Debian root that both editions start from (and the only one for the Apache edition).
provision() {
  local ROOT=$BASE_ROOT
  if [ -f "$ROOT/.financehub-provisioned" ]; then return; fi
  need_root "$@"
  if ! command -v debootstrap >/dev/null 2>&1 && [ ! -x /usr/sbin/debootstrap ]; then
    say "installing debootstrap on the host"
    apt-get update -qq || fail "apt-get update failed on the host"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null || fail "cannot install debootstrap"
  fi
  local mirror; mirror=$(host_mirror)
  if [ ! -f "$ROOT/.debootstrap-done" ]; then
    say "creating a Debian 13 (trixie) root in $ROOT (about a minute)"
    rm -rf "$ROOT"; mkdir -p "$ROOT"
    PATH=$PATH:/usr/sbin debootstrap --variant=minbase trixie "$ROOT" "$mirror" >"$ROOT.debootstrap.log" 2>&1 \
      || fail "debootstrap failed; see $ROOT.debootstrap.log"
    touch "$ROOT/.debootstrap-done"
  fi
  say "installing ${PACKAGES[*]} in the root"
  # No services may start inside the root during install, and no default cluster is wanted.
  printf '#!/bin/sh\nexit 101\n' >"$ROOT/usr/sbin/policy-rc.d"; chmod +x "$ROOT/usr/sbin/policy-rc.d"
  mkdir -p "$ROOT/etc/postgresql-common"
  echo 'create_main_cluster = false' >"$ROOT/etc/postgresql-common/createcluster.conf"
  cp /etc/resolv.conf "$ROOT/etc/resolv.conf" 2>/dev/null || true
  mount_proc
  trap umount_proc EXIT
  in_root apt-get update -qq >"$ROOT.apt.log" 2>&1 || fail "apt-get update in the root failed; see $ROOT.apt.log"
  in_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${PACKAGES[@]}" >>"$ROOT.apt.log" 2>&1 \
    || fail "installing packages in the root failed; see $ROOT.apt.log"
  in_root apt-get clean
  umount_proc; trap - EXIT
  [ -x "$ROOT/usr/lib/postgresql/17/bin/postgres" ] || fail "postgresql-17 is missing from the root after install"
  [ -f "$ROOT/usr/share/postgresql/17/extension/timescaledb.control" ] || fail "timescaledb is missing from the root after install"
  in_root sh -c 'command -v moto_server' >/dev/null || fail "moto_server is missing from the root after install"
  touch "$ROOT/.financehub-provisioned"
  say "root ready ($(du -sh "$ROOT" | cut -f1))"
}

# The community edition: a copy of the Debian root (without its database files) with the build tools, in which each
# given release tarball is built and installed once; a marker per tarball (version and sha256) is the cache. Releases
# install side by side (timescaledb-2.19.3.so beside timescaledb-2.29.2.so, each with its TSL library); `make install`
# also writes the loader timescaledb.so, so the newest release is installed again last whenever anything was built.
BUILD_PACKAGES=(build-essential cmake postgresql-server-dev-17 libssl-dev libicu-dev libkrb5-dev)
tarball_version() { basename "$1" | sed -n 's/^timescaledb-\([0-9][0-9.]*[0-9]\)\.tar\.xz$/\1/p'; }
provision_community() {
  provision
  if [ ! -f "$ROOT/.financehub-provisioned" ]; then
    say "copying the Debian root to $ROOT for the community edition"
    rm -rf "$ROOT"; mkdir -p "$ROOT"
    tar -C "$BASE_ROOT" --exclude='./proc/*' --exclude='./tmp/*' --exclude=./srv/financehub -cf - . | tar -C "$ROOT" -xf -
    rm -f "$ROOT/.financehub-provisioned"
    mount_proc; trap umount_proc EXIT
    say "installing the build tools in $ROOT (${BUILD_PACKAGES[*]})"
    in_root apt-get update -qq >"$ROOT.apt.log" 2>&1 || fail "apt-get update in the root failed; see $ROOT.apt.log"
    in_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${BUILD_PACKAGES[@]}" >>"$ROOT.apt.log" 2>&1 \
      || fail "installing the build tools failed; see $ROOT.apt.log"
    in_root apt-get clean
    umount_proc; trap - EXIT
    touch "$ROOT/.financehub-provisioned"
  fi
  local source version sum marker built=0 newest="" newest_version=""
  for source in "${TS_SOURCES[@]+"${TS_SOURCES[@]}"}"; do
    [ -f "$source" ] || fail "no such TimescaleDB source tarball: $source"
    version=$(tarball_version "$source")
    [ -n "$version" ] || fail "cannot tell the release of $source: name it timescaledb-X.Y.Z.tar.xz, as \`git archive --prefix=timescaledb-X.Y.Z/ X.Y.Z\` of a release tag"
    sum=$(sha256sum "$source" | cut -c1-16)
    marker="$ROOT/.financehub-timescaledb-$version-$sum"
    if [ ! -f "$marker" ]; then build_timescaledb "$source" "$version"; touch "$marker"; built=1; fi
  done
  # Newest release of all built here, whichever run built it.
  for marker in "$ROOT"/.financehub-timescaledb-*; do
    [ -f "$marker" ] || continue
    version=$(basename "$marker" | sed 's/^\.financehub-timescaledb-//; s/-[0-9a-f]*$//')
    if [ -z "$newest_version" ] || [ "$(printf '%s\n%s\n' "$newest_version" "$version" | sort -V | tail -n1)" = "$version" ]; then
      newest_version=$version
    fi
  done
  [ -n "$newest_version" ] || fail "the community edition is built from release source: give --timescaledb-source PATH/timescaledb-X.Y.Z.tar.xz (a public release tag as \`git archive\` makes it)"
  if [ "$built" = 1 ]; then
    say "installing TimescaleDB $newest_version last (its loader is the one to keep)"
    in_root sh -c "cd /usr/src/financehub-timescaledb/$newest_version/build && make install" >>"$ROOT.build-$newest_version.log" 2>&1 \
      || fail "make install of $newest_version failed; see $ROOT.build-$newest_version.log"
  fi
  COMMUNITY_DEFAULT_VERSION=$newest_version
}

# build_timescaledb TARBALL VERSION: configure, build and install one release in the community root (2.19: about a
# minute; 2.29: about 5 minutes on 2 cores). Regression and TAP checks are off; test/ and scripts/ must stay (CMake
# adds them even so).
build_timescaledb() {
  local source=$1 version=$2 dir=/usr/src/financehub-timescaledb/$2
  say "building TimescaleDB $version (community edition) from $(basename "$source"); only the first run on a machine does this"
  rm -rf "${ROOT:?}$dir"; mkdir -p "$ROOT$dir"
  tar -C "$ROOT$dir" --strip-components=1 -xJf "$source" || fail "cannot unpack $source"
  mount_proc; trap umount_proc EXIT
  in_root sh -c "cd $dir && ./bootstrap -DREGRESS_CHECKS=OFF -DTAP_CHECKS=OFF -DWARNINGS_AS_ERRORS=OFF -DCMAKE_BUILD_TYPE=Release \
                   -DGENERATE_DOWNGRADE_SCRIPT=OFF -DPG_CONFIG=/usr/lib/postgresql/17/bin/pg_config && cd build && make -j\$(nproc) && make install" \
    >"$ROOT.build-$version.log" 2>&1 || fail "building TimescaleDB $version failed; see $ROOT.build-$version.log"
  umount_proc; trap - EXIT
  say "TimescaleDB $version built and installed"
}

pg_running() { as_postgres pg_ctl -D "$PG_DATA" status >/dev/null 2>&1; }

init_cluster() {
  if [ -f "$ROOT$PG_DATA/PG_VERSION" ]; then return; fi
  say "initialising the PostgreSQL cluster"
  mkdir -p "$ROOT$PG_DATA" "$ROOT$LOG_DIR"
  chroot "$ROOT" chown -R postgres:postgres /srv/financehub
  printf '%s\n' "$PG_PASSWORD" >"$ROOT/srv/financehub/pwfile"; chroot "$ROOT" chown postgres /srv/financehub/pwfile
  as_postgres initdb -D "$PG_DATA" -U postgres --pwfile=/srv/financehub/pwfile --auth-local=trust --auth-host=scram-sha-256 -E UTF8 --locale=C.UTF-8 >"$ROOT$LOG_DIR/initdb.log" 2>&1 \
    || fail "initdb failed; see $ROOT$LOG_DIR/initdb.log"
  rm -f "$ROOT/srv/financehub/pwfile"
  echo "include_if_exists = 'financehub.conf'" >>"$ROOT$PG_DATA/postgresql.conf"
}

# The server's settings, written again at every start (a newer script's settings apply at the next restart).
write_conf() {
  cat >"$ROOT$PG_DATA/financehub.conf" <<CONF
# FinanceHub devstack ($EDITION edition); written by eng/devstack.sh at every start
shared_preload_libraries = 'timescaledb'
listen_addresses = '127.0.0.1'
port = $PG_PORT
unix_socket_directories = '/tmp'
dynamic_shared_memory_type = sysv
max_connections = 200
shared_buffers = 1GB
work_mem = 32MB
maintenance_work_mem = 512MB
max_wal_size = 4GB
checkpoint_timeout = 15min
timescaledb.telemetry_level = off
# As Timescale's images: background workers sized for many databases' schedulers and jobs (policy jobs start when due).
timescaledb.max_background_workers = 16
max_worker_processes = 32
CONF
  chroot "$ROOT" chown postgres:postgres "$PG_DATA/financehub.conf"
}

start_pg() {
  init_cluster
  # Clusters made by older versions of this script have the settings inline; later lines win over them.
  grep -q "include_if_exists = 'financehub.conf'" "$ROOT$PG_DATA/postgresql.conf" \
    || echo "include_if_exists = 'financehub.conf'" >>"$ROOT$PG_DATA/postgresql.conf"
  write_conf
  if pg_running; then say "PostgreSQL already running on 127.0.0.1:$PG_PORT"; return; fi
  say "starting PostgreSQL 17 on 127.0.0.1:$PG_PORT"
  as_postgres pg_ctl -D "$PG_DATA" -l "$LOG_DIR/postgresql.log" -w -t 60 start >/dev/null \
    || fail "PostgreSQL did not start; see $ROOT$LOG_DIR/postgresql.log"
}

replica_running() { [ -f "$ROOT$REPLICA_DATA/PG_VERSION" ] && as_postgres pg_ctl -D "$REPLICA_DATA" status >/dev/null 2>&1; }

# A streaming standby of the server above, in the same root: a base backup of the running primary, hot standby on its
# own port, fed through a replication slot. Made once; while it is stopped the slot keeps the WAL it needs (up to
# max_slot_wal_keep_size), so later starts catch up. A standby made without a slot (older versions of this script),
# or whose slot lost its WAL to that limit, could not: it is made again.
REPLICA_SLOT=financehub_standby
primary_sql() { PGPASSWORD=$PG_PASSWORD as_postgres env PGPASSWORD=$PG_PASSWORD psql -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres -qAtc "$1"; }
drop_replica_slot() { primary_sql "SELECT pg_drop_replication_slot('$REPLICA_SLOT') FROM pg_replication_slots WHERE slot_name = '$REPLICA_SLOT'" >/dev/null; }
start_replica() {
  if replica_running; then say "standby already running on 127.0.0.1:$REPLICA_PORT"; return; fi
  if [ -f "$ROOT$REPLICA_DATA/PG_VERSION" ] && ! grep -q "primary_slot_name" "$ROOT$REPLICA_DATA/postgresql.auto.conf" 2>/dev/null; then
    say "the standby has no replication slot and may be unable to catch up: making it again"
    rm -rf "${ROOT:?}$REPLICA_DATA"
  fi
  if [ -f "$ROOT$REPLICA_DATA/PG_VERSION" ]; then
    # More WAL than max_slot_wal_keep_size went by while it was stopped (a benchmark, say): the slot lost it.
    slot=$(primary_sql "SELECT coalesce((SELECT wal_status FROM pg_replication_slots WHERE slot_name = '$REPLICA_SLOT'), 'missing')")
    if [ "$slot" = lost ] || [ "$slot" = missing ]; then
      say "the standby's replication slot is $slot (the WAL it needs is gone): making it again"
      rm -rf "${ROOT:?}$REPLICA_DATA"
    fi
  fi
  if [ ! -f "$ROOT$REPLICA_DATA/PG_VERSION" ]; then
    say "making a streaming standby with pg_basebackup"
    rm -rf "${ROOT:?}$REPLICA_DATA"
    primary_sql "ALTER SYSTEM SET max_slot_wal_keep_size = '8GB'" && primary_sql "SELECT pg_reload_conf()" >/dev/null \
      && drop_replica_slot \
      || fail "could not prepare the primary's replication slot"
    PGPASSWORD=$PG_PASSWORD as_postgres env PGPASSWORD=$PG_PASSWORD pg_basebackup -h 127.0.0.1 -p "$PG_PORT" -U postgres -D "$REPLICA_DATA" \
      -X stream -R -C -S "$REPLICA_SLOT" --checkpoint=fast >"$ROOT$LOG_DIR/basebackup.log" 2>&1 || fail "pg_basebackup failed; see $ROOT$LOG_DIR/basebackup.log"
    cat >>"$ROOT$REPLICA_DATA/postgresql.auto.conf" <<CONF
port = $REPLICA_PORT
primary_conninfo = 'host=127.0.0.1 port=$PG_PORT user=postgres password=$PG_PASSWORD application_name=financehub_standby'
hot_standby = on
hot_standby_feedback = on
max_standby_streaming_delay = 30s
CONF
  fi
  # The primary's settings as of this start (max_worker_processes, say, must not be below the primary's).
  cp "$ROOT$PG_DATA/financehub.conf" "$ROOT$REPLICA_DATA/financehub.conf"
  grep -q "include_if_exists = 'financehub.conf'" "$ROOT$REPLICA_DATA/postgresql.conf" \
    || echo "include_if_exists = 'financehub.conf'" >>"$ROOT$REPLICA_DATA/postgresql.conf"
  set_feedback on
  say "starting the standby on 127.0.0.1:$REPLICA_PORT"
  as_postgres pg_ctl -D "$REPLICA_DATA" -l "$LOG_DIR/standby.log" -w -t 60 start >/dev/null \
    || fail "the standby did not start; see $ROOT$LOG_DIR/standby.log (eng/devstack.sh replica reset makes it again)"
}

# hot_standby_feedback holds the primary's VACUUM back to what the standby's queries still see, through the slot's xmin;
# a stopped standby's slot keeps that xmin forever, so no later row is ever cleaned up or marked all-visible (no
# index-only scans, a growing heap: every benchmark measured against a standby stopped on Tuesday). Before stopping,
# feedback is switched off, which clears the xmin; starting switches it on again.
slot_xmin() { primary_sql "SELECT coalesce((SELECT xmin::text FROM pg_replication_slots WHERE slot_name = '$REPLICA_SLOT'), '')"; }
set_feedback() { sed -i "s/^hot_standby_feedback = .*/hot_standby_feedback = $1/" "$ROOT$REPLICA_DATA/postgresql.auto.conf"; }
stop_replica() {
  if replica_running; then
    set_feedback off
    as_postgres pg_ctl -D "$REPLICA_DATA" reload >/dev/null
    for _ in $(seq 1 40); do [ -z "$(slot_xmin)" ] && break; sleep 0.25; done
    as_postgres pg_ctl -D "$REPLICA_DATA" -m fast -w stop >/dev/null; say "standby stopped"
  fi
}

# A standby that stopped without that (killed, or by an older version of this script) left its xmin behind: drop the
# slot, so that VACUUM works again; the standby is made again when it next starts.
release_stale_slot() {
  if ! replica_running && [ -n "$(slot_xmin)" ]; then
    say "the stopped standby's replication slot holds back VACUUM (xmin $(slot_xmin)): dropping it; the standby is made again when it starts"
    drop_replica_slot
  fi
}

s3_pid() { cat "$BASE_ROOT$LOG_DIR/moto${1:-}.pid" 2>/dev/null || true; }
s3_running() { local p; p=$(s3_pid "${1:-}"); [ -n "$p" ] && kill -0 "$p" 2>/dev/null; }

# start_s3 NAME PORT [ENV...]: one moto_server on 127.0.0.1:PORT, pid and log under NAME.
start_s3() {
  local name=$1 port=$2; shift 2
  if s3_running "$name"; then say "moto_server$name already running on 127.0.0.1:$port"; return; fi
  say "starting moto_server$name (S3 API) on 127.0.0.1:$port"
  mkdir -p "$BASE_ROOT$LOG_DIR"
  nohup chroot "$BASE_ROOT" /usr/bin/env -i PATH=/usr/bin:/bin HOME=/root LANG=C.UTF-8 "$@" \
    moto_server -H 127.0.0.1 -p "$port" >"$BASE_ROOT$LOG_DIR/moto$name.log" 2>&1 </dev/null &
  echo $! >"$BASE_ROOT$LOG_DIR/moto$name.pid"
  for _ in $(seq 1 60); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then return; fi
    s3_running "$name" || fail "moto_server$name exited; see $BASE_ROOT$LOG_DIR/moto$name.log"
    sleep 0.5
  done
  fail "moto_server$name did not answer on 127.0.0.1:$port within 30 s; see $BASE_ROOT$LOG_DIR/moto$name.log"
}

print_env() {
  cat <<ENV
export DEVSTACK_EDITION=$EDITION
export TIMESCALE_DB_HOST=127.0.0.1
export TIMESCALE_DB_PORT=$PG_PORT
export TIMESCALE_DB_NAME=financehub
export TIMESCALE_DB_USER=postgres
export TIMESCALE_DB_PASSWORD=$PG_PASSWORD
export FINANCEHUB_CONNECTION_STRING="Host=127.0.0.1;Port=$PG_PORT;Database=financehub;Username=postgres;Password=$PG_PASSWORD"
export AWS_ENDPOINT_URL_S3=http://127.0.0.1:$S3_PORT
export AWS_ACCESS_KEY_ID=testing
export AWS_SECRET_ACCESS_KEY=testing
export AWS_REGION=us-east-1
export ARCHIVE_S3_FORCE_PATH_STYLE=true
export FINANCEHUB_TEST_S3_AUTH_ENDPOINT=http://127.0.0.1:$S3_AUTH_PORT
ENV
  if [ -f "$ROOT$REPLICA_DATA/PG_VERSION" ]; then
    cat <<ENV
export FINANCEHUB_TEST_REPLICA_CONNECTION_STRING="Host=127.0.0.1;Port=$REPLICA_PORT;Database=financehub;Username=postgres;Password=$PG_PASSWORD"
export FINANCEHUB_TEST_REPLICA_CONTROL="$(cd "$(dirname "$0")" && pwd)/devstack.sh --edition $EDITION replica"
ENV
  fi
}

cmd=${1:-}
case "$cmd" in
  up)
    need_root up
    if [ "$EDITION" = community ]; then provision_community; else provision; fi
    start_pg
    start_s3 "" "$S3_PORT"
    start_s3 "-auth" "$S3_AUTH_PORT" INITIAL_NO_AUTH_ACTION_COUNT=0
    PGPASSWORD=$PG_PASSWORD psql -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres -tAqc \
      "SELECT 1 FROM pg_database WHERE datname='financehub'" | grep -q 1 \
      || PGPASSWORD=$PG_PASSWORD psql -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres -qc 'CREATE DATABASE financehub' \
      || fail "cannot create database financehub"
    if [ "$WANT_REPLICA" = 1 ]; then start_replica; else release_stale_slot; fi
    say "up ($EDITION edition, TimescaleDB $(primary_sql "SELECT default_version FROM pg_available_extensions WHERE name = 'timescaledb'")): PostgreSQL 127.0.0.1:$PG_PORT (database financehub), S3 http://127.0.0.1:$S3_PORT$(replica_running && echo ", standby 127.0.0.1:$REPLICA_PORT")"
    ;;
  replica)
    case "${2:-}" in
      start) need_root replica; start_pg; start_replica ;;
      stop) stop_replica ;;
      reset) stop_replica; rm -rf "${ROOT:?}$REPLICA_DATA"
             if pg_running; then drop_replica_slot; fi
             say "standby removed" ;;
      status) if replica_running; then echo "standby:    running on 127.0.0.1:$REPLICA_PORT"; else echo "standby:    stopped"; fi ;;
      *) fail "usage: $0 replica start|stop|reset|status" ;;
    esac
    ;;
  down)
    stop_replica
    if [ -d "$ROOT$PG_DATA" ] && pg_running; then as_postgres pg_ctl -D "$PG_DATA" -m fast -w stop >/dev/null; say "PostgreSQL stopped"; fi
    for name in "" -auth; do
      if s3_running "$name"; then kill "$(s3_pid "$name")"; rm -f "$BASE_ROOT$LOG_DIR/moto$name.pid"; say "moto_server$name stopped"; fi
    done
    ;;
  reset)
    "$0" down
    rm -rf "${ROOT:?}$PG_DATA" "${ROOT:?}$REPLICA_DATA"; say "database files removed"
    ;;
  status)
    [ -f "$ROOT/.financehub-provisioned" ] && echo "root:       $ROOT (provisioned)" || echo "root:       $ROOT (not provisioned; run: $0 up)"
    if [ -f "$ROOT/.financehub-provisioned" ] && pg_running; then echo "postgresql: running on 127.0.0.1:$PG_PORT"; else echo "postgresql: stopped"; fi
    if replica_running; then echo "standby:    running on 127.0.0.1:$REPLICA_PORT"; else echo "standby:    stopped"; fi
    if s3_running; then echo "s3 (moto):  running on 127.0.0.1:$S3_PORT"; else echo "s3 (moto):  stopped"; fi
    if s3_running -auth; then echo "s3 (auth):  running on 127.0.0.1:$S3_AUTH_PORT"; else echo "s3 (auth):  stopped"; fi
    ;;
  env) print_env ;;
  *) sed -n '2,34p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
esac
