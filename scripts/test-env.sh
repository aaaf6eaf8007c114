#!/usr/bin/env bash
# Test environment for ServicePro: a private PostgreSQL and a Python venv (buf, gRPC tools, SDKs).
#   bash scripts/test-env.sh        set up (idempotent); writes the exports to $SERVICEPRO_TEST_DIR/env
#   source scripts/test-env.sh      the same, then loads those exports into this shell
#                                   (from an interactive shell: a sourced file sees its caller's "$@")
#   bash scripts/test-env.sh stop   stop the test PostgreSQL
# Settings: SERVICEPRO_TEST_DIR (default <repo>/.build-test), SERVICEPRO_TEST_PG_PORT (default 55432).

if [[ "${BASH_SOURCE[0]}" != "$0" ]]; then
  # Sourced: do the work in a child bash, so strict mode and `exit` can't hit the caller's shell.
  bash "${BASH_SOURCE[0]}" "$@" &&
    if [[ "${1:-}" != stop ]]; then
      # shellcheck source=/dev/null
      . "${SERVICEPRO_TEST_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/.build-test}/env"
    fi
  return
fi

set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
mkdir -p "${SERVICEPRO_TEST_DIR:-$REPO/.build-test}"
TEST_DIR=$(cd "${SERVICEPRO_TEST_DIR:-$REPO/.build-test}" && pwd)
PORT=${SERVICEPRO_TEST_PG_PORT:-55432}
ENV_FILE=$TEST_DIR/env
VENV=$TEST_DIR/venv
PY_REQS=(grpcio grpcio-tools grpcio-health-checking grpcio-reflection grpcio-status buf-bin twilio stripe)
export DEBIAN_FRONTEND=noninteractive
T0=$SECONDS

say() { printf '[test-env %3ds] %s\n' "$((SECONDS - T0))" "$*"; }
die() { printf '[test-env] ERROR: %s\n' "$*" >&2; exit 1; }
SUDO=; [[ $EUID -eq 0 ]] || SUDO=sudo
APT_UPDATED=
apt_install() {
  say "installing $* with apt-get"
  [[ -n $APT_UPDATED ]] || { $SUDO apt-get update -qq; APT_UPDATED=1; }
  $SUDO apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

# PostgreSQL refuses to run as root, so as root its programs run as the `postgres` user.
# `cd /` because that user may not be allowed into the caller's working directory.
as_pg() { if [[ $EUID -eq 0 ]]; then (cd / && runuser -u postgres -- "$@"); else "$@"; fi; }

# A bin dir holding all the server and client programs we use. A data dir already made
# by some version needs that version; otherwise PATH first (resolving symlinks such as
# /usr/local/bin/pg_ctl), then the newest /usr/lib/postgresql/*/bin (Debian puts none on PATH).
find_pgbin() {
  local d candidates=() versioned
  [[ -f ${DATA:-}/PG_VERSION ]] && candidates+=("/usr/lib/postgresql/$(cat "$DATA/PG_VERSION")/bin")
  command -v pg_ctl >/dev/null && candidates+=("$(dirname "$(readlink -f "$(command -v pg_ctl)")")")
  mapfile -t versioned < <(printf '%s\n' /usr/lib/postgresql/*/bin | sort -rV)
  candidates+=("${versioned[@]}")
  for d in "${candidates[@]}"; do
    [[ -x $d/initdb && -x $d/pg_ctl && -x $d/pg_isready && -x $d/psql ]] && { echo "$d"; return; }
  done
  return 1
}

MODE=${1:-start}
[[ $MODE == start || $MODE == stop ]] || die "usage: $0 [start|stop]"
# Install first: Debian's package also creates the postgres user the way it wants it.
[[ $MODE == stop ]] || find_pgbin >/dev/null || apt_install postgresql
# The TLS tests make a throwaway certificate with openssl.
[[ $MODE == stop ]] || command -v openssl >/dev/null || apt_install openssl
# Export archives are deflated with zlib, which the build links against.
[[ $MODE == stop ]] || [[ -f /usr/include/zlib.h ]] || apt_install zlib1g-dev pkg-config

# Where the cluster lives. The postgres user must be able to reach it, and a unix socket path
# must stay under ~107 bytes; if the test dir fails either, use a fixed per-checkout dir in /tmp.
PG_ROOT=$TEST_DIR
if [[ $MODE == start && $EUID -eq 0 ]] && ! id postgres >/dev/null 2>&1; then
  say "creating system user postgres"
  useradd --system --user-group --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin postgres
fi
if (( ${#PG_ROOT} > 80 )) || ! as_pg test -x "$PG_ROOT" 2>/dev/null; then
  PG_ROOT=/tmp/servicepro-test-$(printf %s "$TEST_DIR" | md5sum | cut -c1-10)
  say "the postgres user can't use $TEST_DIR (no access, or too long for a socket); using $PG_ROOT"
  mkdir -p "$PG_ROOT"
fi
DATA=$PG_ROOT/pg          # data directory (owned by postgres, mode 700)
RUN=$PG_ROOT/pg-run       # private unix socket dir and server log (owned by postgres)

if [[ $MODE == stop ]]; then
  PGBIN=$(find_pgbin) || { say "PostgreSQL is not installed: nothing to stop"; exit 0; }
  if [[ -f $DATA/PG_VERSION ]] && as_pg "$PGBIN/pg_ctl" status -D "$DATA" >/dev/null; then
    say "stopping PostgreSQL ($DATA)"
    as_pg "$PGBIN/pg_ctl" stop -D "$DATA" -m fast >/dev/null
  else
    say "PostgreSQL is not running"
  fi
  exit 0
fi

# --- PostgreSQL -------------------------------------------------------------------------
PGBIN=$(find_pgbin) || die "no PostgreSQL programs found, even after apt-get install postgresql"
say "PostgreSQL programs: $PGBIN"

mkdir -p "$RUN"
[[ $EUID -ne 0 ]] || chown postgres: "$RUN"
if [[ ! -f $DATA/PG_VERSION ]]; then
  say "initdb $DATA"
  rm -rf "$DATA"   # a half-made data dir from an interrupted run: initdb wants it empty
  mkdir -p "$DATA"
  [[ $EUID -ne 0 ]] || chown postgres: "$DATA"
  chmod 700 "$DATA"
  # Trust auth on local and loopback: the cluster is private to this checkout and to 127.0.0.1.
  as_pg "$PGBIN/initdb" -D "$DATA" -U postgres --auth=trust --encoding=UTF8 --no-locale >"$RUN/initdb.log" ||
    { cat "$RUN/initdb.log"; die "initdb failed"; }
  echo "include_if_exists = 'servicepro.conf'" | as_pg tee -a "$DATA/postgresql.conf" >/dev/null
fi
# Rewritten each run so a changed SERVICEPRO_TEST_PG_PORT takes effect. Durability is
# switched off because a test database is thrown away anyway, and it makes tests faster.
as_pg tee "$DATA/servicepro.conf" >/dev/null <<CONF
port = $PORT
listen_addresses = '127.0.0.1'
unix_socket_directories = '$RUN'
max_connections = 200
fsync = off
synchronous_commit = off
full_page_writes = off
CONF

pg_ready() { "$PGBIN/pg_isready" -q -h 127.0.0.1 -p "$PORT"; }
if as_pg "$PGBIN/pg_ctl" status -D "$DATA" >/dev/null; then
  if pg_ready; then
    say "reusing the running PostgreSQL on port $PORT"
  else
    say "PostgreSQL is running but not on port $PORT: restarting it"
    as_pg "$PGBIN/pg_ctl" restart -D "$DATA" -m fast -w -l "$RUN/server.log" >/dev/null
  fi
else
  # Another server on our port would answer pg_isready and make our tests use the wrong cluster.
  ! pg_ready || die "port $PORT is in use by another server; set SERVICEPRO_TEST_PG_PORT"
  say "starting PostgreSQL on 127.0.0.1:$PORT (log: $RUN/server.log)"
  as_pg "$PGBIN/pg_ctl" start -D "$DATA" -w -t 60 -l "$RUN/server.log" >/dev/null ||
    { tail -n 20 "$RUN/server.log" >&2; die "PostgreSQL did not start"; }
fi
for _ in $(seq 60); do pg_ready && break; sleep 0.5; done
pg_ready || die "PostgreSQL on port $PORT is not ready (see $RUN/server.log)"

# The app role is deliberately not a superuser and cannot bypass RLS, so row-level security
# applies to it in tests; CREATEDB lets tests make throwaway databases.
"$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PORT" -U postgres -d postgres <<'SQL'
SELECT 'CREATE ROLE servicepro' WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'servicepro') \gexec
ALTER ROLE servicepro WITH LOGIN NOSUPERUSER NOBYPASSRLS CREATEDB PASSWORD 'servicepro';
SELECT 'CREATE DATABASE servicepro_test OWNER servicepro'
  WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'servicepro_test') \gexec
SQL
DB_URL=postgres://servicepro:servicepro@127.0.0.1:$PORT/servicepro_test
say "database ready: $DB_URL"

# --- Python venv ------------------------------------------------------------------------
if ! "$VENV/bin/python" -c '' 2>/dev/null; then
  # Debian's python3 makes venvs only with python3-venv (ensurepip) installed.
  python3 -c 'import venv, ensurepip' 2>/dev/null || apt_install python3 python3-venv
  say "creating venv $VENV"
  rm -rf "$VENV"
  python3 -m venv "$VENV"
fi
# The marker holds the requirement list last installed, so an unchanged list skips pip.
if [[ "$(cat "$VENV/.servicepro-requirements" 2>/dev/null)" != "${PY_REQS[*]}" ]]; then
  say "pip install ${PY_REQS[*]}"
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check "${PY_REQS[@]}"
  echo "${PY_REQS[*]}" >"$VENV/.servicepro-requirements"
else
  say "venv up to date: $VENV"
fi
[[ -x $VENV/bin/buf ]] || die "buf is missing from $VENV/bin (pip package buf-bin)"

# --- Exports for other scripts ------------------------------------------------------------
q() { printf %q "$1"; }
cat >"$ENV_FILE.tmp" <<ENV
# Written by scripts/test-env.sh; source it to use the test environment.
export SERVICEPRO_TEST_DATABASE_URL=$(q "$DB_URL")
export SERVICEPRO_TEST_PYTHON=$(q "$VENV/bin/python")
export BUF=$(q "$VENV/bin/buf")
case ":\$PATH:" in *:$(q "$VENV/bin"):*) ;; *) export PATH=$(q "$VENV/bin"):\$PATH ;; esac
# At most 16 tests at once. Unbounded, the suite held ~1,450 file descriptors open at its peak
# (each test's servers, clients and databases); bounded, the peak is ~250 and the suite runs
# faster on two cores.
export SWT_EXPERIMENTAL_MAXIMUM_PARALLELIZATION_WIDTH=\${SWT_EXPERIMENTAL_MAXIMUM_PARALLELIZATION_WIDTH:-16}
ENV
mv "$ENV_FILE.tmp" "$ENV_FILE"
say "ready; exports written to $ENV_FILE"
