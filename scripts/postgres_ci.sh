#!/usr/bin/env bash
# A throwaway PostgreSQL server for CI and the warehouse tests.
#
#   scripts/postgres_ci.sh start DIR [PORT]   initdb into DIR/data, start on 127.0.0.1:PORT
#                                             (default: a free port), create role and database
#                                             `heymarket`, print `export PG...=...` lines
#   scripts/postgres_ci.sh stop DIR           stop that server (idempotent); DIR stays
#
# The binaries come from PATH or the newest /usr/lib/postgresql/*/bin (Debian's layout);
# install them with `apt-get install -y postgresql`. As root, the server runs as the
# `postgres` OS user (initdb refuses root). The socket goes to DIR (-k), TCP to 127.0.0.1 only;
# the role `heymarket` authenticates with a random password (scram-sha-256) over TCP.
# Output on stdout: only the export lines (PGHOST PGPORT PGUSER PGPASSWORD PGDATABASE and the
# matching TARGET_POSTGRES_* settings); progress goes to stderr and DIR/server.log.
set -euo pipefail

die() { echo "postgres_ci: $*" >&2; exit 1; }

find_bin() {
    local found
    if found=$(command -v pg_ctl 2>/dev/null) && [ -x "$(dirname "$found")/initdb" ]; then
        dirname "$(readlink -f "$found")"
        return
    fi
    found=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
    [ -n "$found" ] && [ -x "$found/initdb" ] || return 1
    echo "$found"
}

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

as_owner() {  # run a command as the server's OS user
    if [ "$(id -u)" = 0 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

cmd=${1:-}
dir=${2:-}
[ -n "$cmd" ] && [ -n "$dir" ] || die "usage: $0 start|stop DIR [PORT]"

case "$cmd" in
start)
    bin=$(find_bin) || die "PostgreSQL binaries not found (apt-get install -y postgresql)"
    port=${3:-$(free_port)}
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd)
    if [ "$(id -u)" = 0 ]; then
        id postgres >/dev/null 2>&1 || die "running as root but there is no 'postgres' OS user"
        chown postgres "$dir"
        chmod 0755 "$dir"
    fi
    password=$(python3 -c 'import secrets; print(secrets.token_hex(16))')
    pwfile=$(mktemp)
    printf '%s\n' "$password" >"$pwfile"
    chmod 0644 "$pwfile"
    as_owner "$bin/initdb" -D "$dir/data" -U postgres -E UTF8 --locale=C.UTF-8 \
        --auth-local=trust --auth-host=scram-sha-256 --pwfile="$pwfile" >"$dir/initdb.log" 2>&1 \
        || { rm -f "$pwfile"; cat "$dir/initdb.log" >&2; die "initdb failed"; }
    rm -f "$pwfile"
    # A free port is only free until someone binds it: if another process takes it
    # before the server does, start again on a new one (unless the caller chose it).
    for attempt in 1 2 3 4 5; do
        rm -f "$dir/server.log"
        # fsync off: a throwaway test server, speed over durability.
        if as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
            -o "-k $dir -p $port -h 127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
            start >&2; then
            break
        fi
        cat "$dir/server.log" >&2
        if [ -n "${3:-}" ] || [ "$attempt" = 5 ] || ! grep -q "already in use" "$dir/server.log"; then
            die "pg_ctl start failed on port $port"
        fi
        echo "postgres_ci: port $port was taken before the server bound it; trying another" >&2
        port=$(free_port)
    done
    echo "$bin" >"$dir/bin"
    psql() { as_owner "$bin/psql" -h "$dir" -p "$port" -U postgres -X -q -v ON_ERROR_STOP=1 "$@"; }
    psql -d postgres -c "CREATE ROLE heymarket LOGIN PASSWORD '$password'" >&2
    psql -d postgres -c "CREATE DATABASE heymarket OWNER heymarket" >&2
    echo "postgres_ci: PostgreSQL $("$bin/postgres" -V | awk '{print $3}') on 127.0.0.1:$port (data $dir/data)" >&2
    cat <<EOF
export PGHOST=127.0.0.1
export PGPORT=$port
export PGUSER=heymarket
export PGPASSWORD=$password
export PGDATABASE=heymarket
export TARGET_POSTGRES_HOST=127.0.0.1
export TARGET_POSTGRES_PORT=$port
export TARGET_POSTGRES_USER=heymarket
export TARGET_POSTGRES_PASSWORD=$password
export TARGET_POSTGRES_DATABASE=heymarket
EOF
    ;;
stop)
    [ -d "$dir/data" ] || exit 0
    bin=$(cat "$dir/bin" 2>/dev/null || find_bin) || die "PostgreSQL binaries not found"
    as_owner "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >&2 || true
    ;;
*)
    die "usage: $0 start|stop DIR [PORT]"
    ;;
esac
