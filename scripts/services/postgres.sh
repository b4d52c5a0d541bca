# Sourced: a throwaway PostgreSQL cluster on loopback for the tests.
# start_postgres DIR exports HSM_TEST_POSTGRES_URL; stop_postgres DIR stops it.

_pg_bin() {
    local initdb
    initdb=$(ls /usr/lib/postgresql/*/bin/initdb 2>/dev/null | sort -V | tail -n 1)
    [ -n "$initdb" ] || { echo "PostgreSQL server binaries not found" >&2; return 1; }
    dirname "$initdb"
}

_as_pg_owner() {  # initdb refuses to run as root: run the cluster as `postgres` then
    if [ "$(id -u)" -eq 0 ]; then su postgres -s /bin/sh -c "$1"; else sh -c "$1"; fi
}

_free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

start_postgres() {
    local dir=$1 bin port
    bin=$(_pg_bin)
    port=$(_free_port)
    mkdir -p "$dir"
    [ "$(id -u)" -eq 0 ] && chown postgres:postgres "$dir"
    _as_pg_owner "$bin/initdb -N -D '$dir/data' -U postgres -A trust -E UTF8 --no-locale >'$dir/initdb.log' 2>&1"
    _as_pg_owner "$bin/pg_ctl -D '$dir/data' -l '$dir/server.log' -o \"-p $port -k '$dir' -c listen_addresses=127.0.0.1 -c fsync=off\" -w start >/dev/null"
    export HSM_TEST_POSTGRES_URL="postgresql://postgres@127.0.0.1:$port/postgres"
    echo "PostgreSQL $("$bin/postgres" --version | awk '{print $3}') on 127.0.0.1:$port"
}

stop_postgres() {
    local dir=$1 bin
    bin=$(_pg_bin)
    [ -f "$dir/data/postmaster.pid" ] && _as_pg_owner "$bin/pg_ctl -D '$dir/data' -m fast -w stop >/dev/null" || true
    rm -rf "$dir"
}
