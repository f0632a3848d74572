# Shared by scripts/run, scripts/test and scripts/bench: install what is missing, start a private
# PostgreSQL. Works as root (CI) and as a normal user; every step is skipped when already done.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export PATH="$HOME/.cargo/bin:$PATH"

say() { printf '\033[1;36m==> %s\033[0m\n' "$*" >&2; }
die() { printf '\033[1;31mxx %s\033[0m\n' "$*" >&2; exit 1; }

as_root() {
    if [ "$(id -u)" = 0 ]; then "$@"
    elif command -v sudo >/dev/null 2>&1; then sudo "$@"
    else die "need root to run: $* (install it yourself, then run this again)"
    fi
}

apt_updated=""
apt_install() {
    say "Installing $* (apt-get)"
    if [ -z "$apt_updated" ]; then as_root apt-get update -qq; apt_updated=1; fi
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

# The wasm target, cargo-leptos and the wasm-bindgen CLI matching Cargo.lock exactly.
ensure_rust_tools() {
    command -v cargo >/dev/null || die "Rust is not installed: see https://rustup.rs"
    local component
    for component in rustfmt clippy; do
        if ! rustup component list --installed 2>/dev/null | grep -q "^$component"; then
            say "Adding the $component component"
            rustup component add "$component"
        fi
    done
    if ! rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown; then
        say "Adding the wasm32-unknown-unknown target"
        rustup target add wasm32-unknown-unknown
    fi
    if ! cargo leptos --version >/dev/null 2>&1; then
        say "Installing cargo-leptos 0.3.10 (once; about 20 minutes on 2 cores)"
        cargo install --locked cargo-leptos --version 0.3.10 --features no_downloads
    fi
    local want have
    want=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/"/, "", $3); print $3; exit }' "$ROOT/Cargo.lock")
    have=$(wasm-bindgen --version 2>/dev/null | awk '{ print $2 }' || true)
    if [ "$have" != "$want" ]; then
        say "Installing wasm-bindgen-cli $want (must match Cargo.lock)"
        cargo install wasm-bindgen-cli --version "=$want" --force
    fi
}

# wasm-opt for release builds (npm's binaryen; Debian's is too old for this rustc).
ensure_wasm_opt() {
    if ! wasm-opt --version 2>/dev/null | grep -q 'version 1[3-9][0-9]'; then
        say "Installing wasm-opt (npm binaryen@132) into target/tools"
        npm install --prefix "$ROOT/target/tools" --no-audit --no-fund binaryen@132 >/dev/null
    fi
    export PATH="$ROOT/target/tools/node_modules/.bin:$PATH"
}

ensure_node() {
    command -v npm >/dev/null || apt_install nodejs npm
}

ensure_chromium() {
    [ -x /usr/bin/chromium ] || apt_install chromium
}

# nginx for scripts/test-deploy, which runs its own. Only the program is wanted: the system
# nginx the package starts on port 80 (outside containers) is stopped and not started at boot.
# nginx lives in /usr/sbin, which a normal user's PATH may lack.
ensure_nginx() {
    export PATH="$PATH:/usr/sbin"
    if ! command -v nginx >/dev/null; then
        apt_install nginx
        if [ -d /run/systemd/system ]; then
            as_root systemctl disable --now nginx >/dev/null 2>&1 || true
        fi
    fi
}

ensure_postgres_binaries() {
    if ! command -v initdb >/dev/null || ! command -v pg_ctl >/dev/null; then
        local bin
        bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
        if [ -z "$bin" ]; then
            apt_install postgresql
            bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
        fi
        export PATH="$bin:$PATH"
    fi
    command -v psql >/dev/null || apt_install postgresql-client
}

# start_postgres DIR PORT DATABASE: a private cluster in DIR listening on 127.0.0.1:PORT, left
# running (it outlives the app, so restarts are instant). Exports DATABASE_URL. Ports sit below
# the ephemeral range (32768+), where a busy client socket could be holding them.
start_postgres() {
    local dir=$1 port=$2 database=$3
    ensure_postgres_binaries
    local run=()
    mkdir -p "$dir"
    if [ "$(id -u)" = 0 ]; then
        # initdb refuses to run as root: the cluster belongs to the unprivileged postgres user.
        id postgres >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin postgres
        chown postgres "$dir"
        run=(runuser -u postgres --)
        if ! (cd / && "${run[@]}" test -w "$dir"); then
            # The checkout is out of the postgres user's reach (e.g. under /root): keep this
            # project's cluster in /var/tmp instead, one per checkout.
            dir="/var/tmp/sesame-postgres/$(printf %s "$ROOT" | cksum | cut -d' ' -f1)/$(basename "$dir")"
            mkdir -p "$dir" && chmod 755 /var/tmp/sesame-postgres && chown postgres "$dir"
        fi
    fi
    pushd "$dir" >/dev/null # a working directory the postgres user can enter
    if [ ! -f "$dir/data/PG_VERSION" ]; then
        say "Creating a private PostgreSQL cluster in ${dir#$ROOT/}"
        "${run[@]}" initdb -D "$dir/data" -A trust -U postgres -E UTF8 --locale=C.UTF-8 >/dev/null
    fi
    if ! "${run[@]}" pg_ctl -D "$dir/data" status >/dev/null 2>&1; then
        say "Starting PostgreSQL on 127.0.0.1:$port"
        "${run[@]}" pg_ctl -D "$dir/data" -l "$dir/postgres.log" -w \
            -o "-p $port -k $dir -h 127.0.0.1 ${POSTGRES_OPTIONS:-}" start >/dev/null \
            || { tail -n 20 "$dir/postgres.log" >&2; die "PostgreSQL did not start"; }
    fi
    if ! psql -h 127.0.0.1 -p "$port" -U postgres -tAc "SELECT 1 FROM pg_database WHERE datname = '$database'" | grep -q 1; then
        psql -h 127.0.0.1 -p "$port" -U postgres -qc "CREATE DATABASE \"$database\"" >/dev/null
    fi
    popd >/dev/null
    export DATABASE_URL="postgres://postgres@127.0.0.1:$port/$database"
}

# stop_postgres DIR
stop_postgres() {
    local run=()
    [ "$(id -u)" = 0 ] && run=(runuser -u postgres --)
    "${run[@]}" pg_ctl -D "$1/data" -m fast stop >/dev/null 2>&1 || true
}

# For the benchmarks: a release build, a PostgreSQL of their own and a server on port 3200
# (BENCH_PORT and BENCH_PG_PORT move them, to run beside another checkout's benchmark).
# Extra SESAME_* settings come from the environment of the caller.
start_bench_server() {
    # BENCH_SKIP_BUILD=1 runs the existing target/release/sesame as it is, without building or
    # checking the build tools (for working on the benchmark scripts themselves, or while another
    # build is in progress): it may be stale.
    if [ "${BENCH_SKIP_BUILD:-}" != 1 ]; then
        ensure_rust_tools
        ensure_wasm_opt
    fi
    ensure_node
    BENCH_PORT=${BENCH_PORT:-3200}
    start_postgres "$ROOT/target/postgres-bench" "${BENCH_PG_PORT:-15434}" postgres
    psql "$DATABASE_URL" -qc "DROP DATABASE IF EXISTS sesame_bench WITH (FORCE)" -c "CREATE DATABASE sesame_bench" >/dev/null
    export DATABASE_URL="${DATABASE_URL%/postgres}/sesame_bench"
    if [ "${BENCH_SKIP_BUILD:-}" = 1 ]; then
        say "Not building (BENCH_SKIP_BUILD=1): running target/release/sesame as it is"
    else
        say "Building in release mode"
        (cd "$ROOT" && cargo leptos build --release --split >/dev/null)
    fi
    # Logging (one line per request) and metrics stay on at their defaults: they are part of the cost.
    export SESAME_SITE_ADDR=127.0.0.1:$BENCH_PORT SESAME_JWT_SECRET_FILE=target/bench/jwt-secret
    mkdir -p "$ROOT/target/bench"
    (cd "$ROOT" && exec ./target/release/sesame >"$ROOT/target/bench/server.log" 2>&1) &
    SERVER_PID=$!
    trap 'kill $SERVER_PID 2>/dev/null || true' EXIT
    for _ in $(seq 100); do
        curl -fs -o /dev/null "http://127.0.0.1:$BENCH_PORT/login" && return 0
        sleep 0.2
    done
    die "the server did not start"
}
