#!/usr/bin/env bash
# Ensure the backing servers used by the test suite are running on loopback:
#   Redis 127.0.0.1:6379, PostgreSQL 127.0.0.1:5432 (trust auth, db `test`),
#   NATS+JetStream 127.0.0.1:4222, memcached 127.0.0.1:11211.
# Idempotent; runs as root on Debian 12; installs missing packages via apt.
# Overrides: REDIS_URL, DATABASE_URL, NATS_URL, MEMCACHED_SERVERS. A non-loopback
# host means "managed elsewhere" (skipped); a loopback host with another port is
# managed on that port.
set -euo pipefail
export PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"

die() { echo "services.sh: ERROR: $*" >&2; exit 1; }
up() { timeout 1 bash -c "</dev/tcp/127.0.0.1/$1" 2>/dev/null; }

APT_UPDATED=0
need() { # need BINARY PACKAGE: install PACKAGE if BINARY is missing
  command -v "$1" >/dev/null 2>&1 && return 0
  [ "$(id -u)" = 0 ] || die "$1 is missing and not root: cannot apt-get install $2"
  if [ "$APT_UPDATED" = 0 ]; then apt-get update -q >/dev/null || die "apt-get update failed"; APT_UPDATED=1; fi
  echo "installing $2 ..."
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$2" >/dev/null || die "apt-get install $2 failed"
}

wait_up() { # wait_up NAME PORT
  local i
  for i in $(seq 1 60); do up "$2" && return 0; sleep 0.5; done
  die "$1 did not answer on 127.0.0.1:$2 within 30s"
}

# parse_hostport URL DEFAULT_PORT -> prints "host port"; accepts scheme://user:pw@host:port/path or host:port
parse_hostport() {
  local s="${1%%,*}"; s="${s#*://}"; s="${s##*@}"; s="${s%%/*}"; s="${s%%\?*}"
  local host="${s%%:*}" port="$2"
  [[ "$s" == *:* ]] && port="${s##*:}"
  echo "${host:-127.0.0.1} ${port:-$2}"
}

# manage NAME ENVVAR DEFAULT_PORT START_FN [SETUP_FN]
manage() {
  local name=$1 url=${!2:-} host port state
  read -r host port < <(parse_hostport "${url:-127.0.0.1:$3}" "$3")
  if [[ "$host" != 127.0.0.1 && "$host" != localhost ]]; then
    echo "$name $host:$port skipped (external, from $2)"; return 0
  fi
  if up "$port"; then state="already running"
  else "$4" "$port"; wait_up "$name" "$port"; state=started; fi
  if [ -n "${5:-}" ]; then "$5" "$port" "$url"; fi
  echo "$name 127.0.0.1:$port ready ($state)"
}

start_redis() {
  need redis-server redis-server
  up "$1" && return 0 # the package may have started it
  mkdir -p /var/lib/redis /var/log/redis
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port "$1" --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log --pidfile "/run/redis-ci-$1.pid" >/dev/null
}

start_memcached() {
  need memcached memcached
  up "$1" && return 0
  local user=memcache; id memcache >/dev/null 2>&1 || user=root
  memcached -d -u "$user" -l 127.0.0.1 -p "$1" -m 64
}

start_nats() {
  need nats-server nats-server
  up "$1" && return 0
  local sd=/var/lib/nats-server log=/var/log/nats-server.log
  [ "$1" = 4222 ] || { sd="$sd-$1"; log="/var/log/nats-server-$1.log"; }
  mkdir -p "$sd"
  start-stop-daemon --start --oknodo --background --make-pidfile --pidfile "/run/nats-server-ci-$1.pid" \
    --exec "$(command -v nats-server)" -- -a 127.0.0.1 -p "$1" -js -sd "$sd" -l "$log"
}

# PostgreSQL: clusters are managed with Debian's postgresql-common tools.
pg_cluster() { pg_lsclusters -h 2>/dev/null | awk -v p="$1" '$3 == p { print $1, $2; exit }'; }
pgsql() { (cd / && runuser -u postgres -- psql -X -p "$PG_PORT" -v ON_ERROR_STOP=1 -tAq "$@"); }

start_postgres() {
  need pg_ctlcluster postgresql
  up "$1" && return 0
  local ver name
  read -r ver name < <(pg_cluster "$1") || true
  if [ -z "${ver:-}" ]; then # no cluster on this port yet: create one
    ver=$(ls /usr/lib/postgresql | sort -V | tail -n1)
    name=main; [ -d "/etc/postgresql/$ver/main" ] && name="ci$1"
    pg_createcluster -p "$1" "$ver" "$name" >/dev/null
  fi
  pg_ctlcluster --skip-systemctl-redirect "$ver" "$name" start
}

setup_postgres() { # trust auth on loopback, role root, database test (+ the one in DATABASE_URL)
  local ver name hba user db
  read -r ver name < <(pg_cluster "$1") || true
  [ -n "${ver:-}" ] || return 0 # not a local postgresql-common cluster: nothing we can manage
  PG_PORT=$1
  if ! PGPASSWORD='' psql -X -w -h 127.0.0.1 -p "$1" -U postgres -d postgres -tAqc 'select 1' >/dev/null 2>&1; then
    hba="/etc/postgresql/$ver/$name/pg_hba.conf"
    if ! grep -q 'added by scripts/services.sh' "$hba"; then
      printf '%s\n' '# added by scripts/services.sh (CI/test setup)' 'local all all trust' \
        'host all all 127.0.0.1/32 trust' 'host all all ::1/128 trust' | cat - "$hba" >"$hba.new"
      chown --reference="$hba" "$hba.new"; chmod --reference="$hba" "$hba.new"; mv "$hba.new" "$hba"
      pg_ctlcluster --skip-systemctl-redirect "$ver" "$name" reload
      sleep 1
    fi
  fi
  user=$(sed -nE 's#^[a-z]+://([^:@/]+)(:[^@/]*)?@.*#\1#p' <<<"${2:-}")
  db=$(sed -nE 's#^[a-z]+://[^/]+/([^?]+).*#\1#p' <<<"${2:-}")
  for user in root ${user:+"$user"}; do
    [ -n "$(pgsql -c "select 1 from pg_roles where rolname='$user'")" ] ||
      (cd / && runuser -u postgres -- createuser -p "$1" -s "$user")
  done
  for db in test ${db:+"$db"}; do
    [ -n "$(pgsql -c "select 1 from pg_database where datname='$db'")" ] ||
      (cd / && runuser -u postgres -- createdb -p "$1" "$db")
  done
  PGPASSWORD='' psql -X -w "postgres://postgres@127.0.0.1:$1/test" -tAqc 'select 1' >/dev/null ||
    die "postgres://postgres@127.0.0.1:$1/test is not reachable without a password (check pg_hba.conf)"
}

manage redis REDIS_URL 6379 start_redis
manage postgres DATABASE_URL 5432 start_postgres setup_postgres
manage nats NATS_URL 4222 start_nats
manage memcached MEMCACHED_SERVERS 11211 start_memcached
