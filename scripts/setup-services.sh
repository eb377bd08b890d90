#!/usr/bin/env bash
# Make the services the tests need ready on this kind of machine (Debian, root):
#   - PostgreSQL server running on 127.0.0.1:5432 with the pgvector extension available,
#   - Redis running on 127.0.0.1:6379.
# Idempotent: every step checks before it acts, so running it twice is cheap.
# Prints `export TEST_DATABASE_URL=...` hints at the end; the tests default to the same values.
set -euo pipefail

log() { printf '[setup-services] %s\n' "$*"; }
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

PG_HOST=127.0.0.1
PG_PORT=${PG_PORT:-5432}

apt_updated=0
apt_install() {
  if [ "$apt_updated" -eq 0 ]; then as_root apt-get update -qq; apt_updated=1; fi
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

# ---------- PostgreSQL ----------
if ! command -v pg_lsclusters >/dev/null 2>&1; then
  log "installing PostgreSQL"
  apt_install postgresql
fi
PG_MAJOR=$(ls /etc/postgresql 2>/dev/null | sort -n | tail -n 1)
if [ -z "$PG_MAJOR" ]; then
  log "no PostgreSQL cluster found"; exit 1
fi
if ! pg_isready -h "$PG_HOST" -p "$PG_PORT" -q; then
  log "starting PostgreSQL $PG_MAJOR"
  as_root pg_ctlcluster --skip-systemctl-redirect "$PG_MAJOR" main start || true
  for _ in $(seq 1 30); do pg_isready -h "$PG_HOST" -p "$PG_PORT" -q && break; sleep 1; done
fi
pg_isready -h "$PG_HOST" -p "$PG_PORT" -q || { log "PostgreSQL is not answering on $PG_HOST:$PG_PORT"; exit 1; }

PG_CONFIG=/usr/lib/postgresql/$PG_MAJOR/bin/pg_config
sharedir=$("$PG_CONFIG" --sharedir 2>/dev/null || echo "/usr/share/postgresql/$PG_MAJOR")
if [ ! -f "$sharedir/extension/vector.control" ]; then
  log "building pgvector for PostgreSQL $PG_MAJOR from Debian's source package"
  # Reuse the URI of the machine's configured Debian source (no host name is written here).
  uri=""
  if [ -f /etc/apt/sources.list.d/debian.sources ]; then
    uri=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources)
  fi
  if [ -z "$uri" ] && [ -f /etc/apt/sources.list ]; then
    uri=$(awk '$1=="deb" && $0 !~ /security/ {for (i=2;i<=NF;i++) if ($i ~ /^[a-z]+:\/\//) {print $i; exit}}' /etc/apt/sources.list)
  fi
  [ -n "$uri" ] || { log "cannot find the machine's Debian source URI"; exit 1; }
  src_list=/etc/apt/sources.list.d/spine-trixie-src.list
  if [ ! -f "$src_list" ]; then
    echo "deb-src $uri trixie main" | as_root tee "$src_list" >/dev/null
  fi
  apt_updated=0
  apt_install "postgresql-server-dev-$PG_MAJOR" make gcc dpkg-dev
  build=$(mktemp -d)
  (
    cd "$build"
    apt-get source -qq pgvector >/dev/null 2>&1 || apt-get source pgvector
    cd pgvector-*/
    make -s PG_CONFIG="$PG_CONFIG" >/dev/null
    as_root make -s PG_CONFIG="$PG_CONFIG" install >/dev/null
  )
  rm -rf "$build"
fi
psql -h "$PG_HOST" -p "$PG_PORT" -U postgres -d postgres -qtAc "CREATE EXTENSION IF NOT EXISTS vector" >/dev/null
psql -h "$PG_HOST" -p "$PG_PORT" -U postgres -d postgres -qtAc "SELECT 1 FROM pg_database WHERE datname='spine_test'" | grep -q 1 \
  || psql -h "$PG_HOST" -p "$PG_PORT" -U postgres -d postgres -qc "CREATE DATABASE spine_test" >/dev/null
psql -h "$PG_HOST" -p "$PG_PORT" -U postgres -d spine_test -qtAc "CREATE EXTENSION IF NOT EXISTS vector" >/dev/null
log "PostgreSQL $PG_MAJOR ready with pgvector $(psql -h "$PG_HOST" -p "$PG_PORT" -U postgres -d spine_test -qtAc "SELECT extversion FROM pg_extension WHERE extname='vector'")"

# ---------- Redis ----------
if ! command -v redis-server >/dev/null 2>&1; then
  log "installing Redis"
  apt_install redis-server
fi
if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
  log "starting Redis"
  as_root mkdir -p /var/lib/redis /var/log/redis
  as_root redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log --maxmemory-policy noeviction
  for _ in $(seq 1 30); do redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 && break; sleep 0.5; done
fi
redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null || { log "Redis is not answering on 127.0.0.1:6379"; exit 1; }
# BullMQ requires noeviction; a queue whose keys can be evicted loses jobs.
redis-cli -h 127.0.0.1 -p 6379 config set maxmemory-policy noeviction >/dev/null
log "Redis ready"

# ---------- Radicale (CalDAV server for the calendar connector tests; each test starts its own) ----------
if ! command -v radicale >/dev/null 2>&1; then
  log "installing Radicale"
  apt_install radicale
fi
log "Radicale available"

# ---------- Dovecot (IMAP server for the inbound-email playbook trigger tests; each test starts its own) ----------
if [ ! -x /usr/sbin/dovecot ]; then
  log "installing Dovecot IMAP"
  apt_install dovecot-imapd
  # The package may start a system instance on port 143; the tests run their own on free ports.
  as_root service dovecot stop >/dev/null 2>&1 || as_root pkill -x dovecot >/dev/null 2>&1 || true
fi
log "Dovecot available"

# ---------- Chromium (headless browser for the web console's end-to-end test) ----------
if [ ! -x /usr/bin/chromium ]; then
  log "installing Chromium"
  apt_install chromium
fi
log "Chromium available"

log "TEST_DATABASE_URL=postgres://postgres@$PG_HOST:$PG_PORT/spine_test"
log "TEST_REDIS_URL=redis://127.0.0.1:6379"
