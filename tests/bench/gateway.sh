#!/usr/bin/env bash
# The gateway benchmark (issues 6, 7 and 12), run by hand:
#
#   bash tests/bench/gateway.sh                         # SQLite store, 3 rounds of 20 s
#   DURATION=10s ROUNDS=2 bash tests/bench/gateway.sh   # shorter
#   MEMORY_RUN=300 bash tests/bench/gateway.sh          # plus 5 minutes of tokengate alone, RSS every 10 s
#   PG=1 bash tests/bench/gateway.sh                    # PostgreSQL store, private cluster, 1 and 2 instances,
#                                                       # and the same binary on SQLite in the same rounds
#   STORE=postgres://user@host:port/db bash tests/bench/gateway.sh   # an existing PostgreSQL database
#
# It starts, in a private temporary directory, a fixed upstream (nginx answering a
# small JSON body), an nginx reverse proxy in front of it (upstream keepalive), the
# floor (`hyper-floor`: a bare hyper reverse proxy on tokengate's HTTP stack, no auth,
# policy or audit) and tokengate in front of it (durable audit, a token with 10 restriction lines of which
# the last one admits the benchmarked path), then measures each with wrk, alternating
# the targets round after round. It prints requests/s, p50 and p99 per run, the
# medians, the ratios tokengate/nginx and tokengate/floor against the targets of
# issue 12, the CPU time per request of nginx, the floor and tokengate, tokengate's
# resident memory, and checks that every request tokengate answered is in its audit
# log. Everything it started is stopped and the directory removed when it ends
# (KEEP=1 keeps the directory, with the configurations, logs and wrk outputs).
#
# Knobs (environment): CONNS (32), THREADS (2), DURATION (20s), ROUNDS (3),
# WARMUP (2s, once per target before round 1; 0 = none), REQ_PATH
# (/rest/api/content/123?expand=body), MEMORY_RUN (0 = off; seconds), STORE or
# TOKENGATE_STORE (postgres://…), PG (1 = start a private PostgreSQL cluster),
# GATEWAY_BIN (use this tokengate binary instead of building one), FLOOR_BIN (the same
# for hyper-floor), STRICT (1 = exit 2
# when a performance target is missed), KEEP (1 = keep the temporary directory),
# SERVE_ARGS (more `tokengate serve` flags, e.g. "--audit-sync normal", or
# "--audit-sink jsonl:/tmp/audit.jsonl" to report the sink's delivery delay).
#
# Exit status: 0 when every run was clean, 1 when a run had non-2xx/3xx responses or
# socket errors, or the audit count does not match (all reported loudly), 2 with
# STRICT=1 when a target is missed.

set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)

CONNS=${CONNS:-32}
THREADS=${THREADS:-2}
DURATION=${DURATION:-20s}
ROUNDS=${ROUNDS:-3}
WARMUP=${WARMUP:-2s}
REQ_PATH=${REQ_PATH:-/rest/api/content/123?expand=body}
MEMORY_RUN=${MEMORY_RUN:-0}
STORE=${STORE:-${TOKENGATE_STORE:-}}
PG=${PG:-0}
GATEWAY_BIN=${GATEWAY_BIN:-}
STRICT=${STRICT:-0}
KEEP=${KEEP:-0}
read -r -a SERVE_EXTRA <<<"${SERVE_ARGS:-}"

# Targets of issue 12.
TARGET_RATIO=0.6        # tokengate req/s >= 0.6 x nginx req/s
TARGET_FLOOR_RATIO=0.8  # tokengate req/s >= 0.8 x the bare hyper proxy (the floor)
TARGET_CPU_US=60        # tokengate CPU (user + system) per request, microseconds
TARGET_P99_MS=5         # tokengate p99 <= 5 ms (at 32 connections)
FLAT_PCT=10             # memory: last minute's max within 10 % of minute 2's max

# Only the settings given below reach the gateway: no stray TOKENGATE_* variable of
# the caller's shell changes what is measured.
for name in $(compgen -v TOKENGATE_ || true); do
    unset "$name"
done

say() { printf '%s\n' "$*"; }
note() { printf '== %s\n' "$*"; }
die() {
    printf 'gateway.sh: %s\n' "$*" >&2
    exit 1
}

ERRORS=()
error() {
    ERRORS+=("$*")
    printf '\n!!!!!!!! ERROR: %s\n\n' "$*" >&2
}

[[ $CONNS =~ ^[0-9]+$ && $CONNS -ge 2 ]] || die "CONNS must be a number >= 2"
[[ $THREADS =~ ^[0-9]+$ && $THREADS -ge 1 && $THREADS -le $CONNS ]] || die "THREADS must be 1..CONNS"
[[ $ROUNDS =~ ^[0-9]+$ ]] || die "ROUNDS must be a number"
[[ $MEMORY_RUN =~ ^[0-9]+$ ]] || die "MEMORY_RUN must be a number of seconds"
[[ $REQ_PATH == /rest/api/content/* ]] || die "REQ_PATH must be under /rest/api/content/ (the token's last line)"
if [[ $PG == 1 && -n $STORE ]]; then
    die "give PG=1 (a private cluster) or STORE=postgres://… (an existing database), not both"
fi
if [[ -n $STORE && $STORE != postgres://* && $STORE != postgresql://* ]]; then
    die "STORE must be a postgres:// URL (the SQLite store is the default)"
fi

# --- what the benchmark needs ----------------------------------------------------

export PATH="$PATH:/usr/sbin:/sbin"
install_missing() {
    local packages=() sudo=()
    command -v nginx >/dev/null 2>&1 || packages+=(nginx)
    command -v wrk >/dev/null 2>&1 || packages+=(wrk)
    command -v ps >/dev/null 2>&1 || packages+=(procps)
    command -v curl >/dev/null 2>&1 || packages+=(curl)
    command -v base64 >/dev/null 2>&1 || packages+=(coreutils)
    if [[ $PG == 1 ]] && ! compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null; then
        packages+=(postgresql)
    fi
    ((${#packages[@]})) || return 0
    if ((EUID != 0)); then
        command -v sudo >/dev/null 2>&1 || die "need root (or sudo) to install: ${packages[*]}"
        sudo=(sudo)
    fi
    note "installing from apt: ${packages[*]}"
    "${sudo[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
}
install_missing
NGINX=$(command -v nginx)

target_dir=${CARGO_TARGET_DIR:-target}
[[ $target_dir == /* ]] || target_dir=$ROOT/$target_dir
if [[ -n $GATEWAY_BIN ]]; then
    BIN=$GATEWAY_BIN
else
    note "building tokengate (cargo build --release --locked -p tokengate)"
    (cd "$ROOT" && cargo build --release --locked -p tokengate)
    BIN=$target_dir/release/tokengate
fi
[[ -x $BIN ]] || die "no tokengate binary at $BIN"
if [[ -n ${FLOOR_BIN:-} ]]; then
    FLOOR=$FLOOR_BIN
else
    note "building the floor, a bare hyper proxy (cargo build --release --locked -p tokengate-tests --bin hyper-floor)"
    (cd "$ROOT" && cargo build --release --locked -p tokengate-tests --bin hyper-floor)
    FLOOR=$target_dir/release/hyper-floor
fi
[[ -x $FLOOR ]] || die "no hyper-floor binary at $FLOOR"

USE_STORE=0
if [[ $PG == 1 || -n $STORE ]]; then
    USE_STORE=1
    for sub in "serve" "token create" "audit"; do
        # shellcheck disable=SC2086 # $sub is two words on purpose
        "$BIN" $sub --help 2>/dev/null | grep -q -- '--store' ||
            die "this tokengate has no \`$sub --store\` (issue 7's shared store); build one that has"
    done
fi

# --- the private directory and every process started, stopped by the trap --------

DIR=$(mktemp -d "${TMPDIR:-/tmp}/tokengate-bench.XXXXXX")
PIDS=()
PG_DATA=

# shellcheck disable=SC2317 # called from the trap
stop_pid() {
    local pid=$1 i
    kill -TERM "$pid" 2>/dev/null || return 0
    for ((i = 0; i < 100; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        # nginx workers are the master's children: take them down with it.
        pkill -KILL -P "$pid" 2>/dev/null || true
        kill -KILL "$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || true
}

# shellcheck disable=SC2317 # the trap
cleanup() {
    local status=$? i
    trap - EXIT INT TERM
    for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do
        stop_pid "${PIDS[i]}"
    done
    if [[ -n $PG_DATA ]]; then
        bash "$ROOT/tests/postgres.sh" stop "$PG_DATA" >/dev/null 2>&1 || true
    fi
    if [[ $KEEP == 1 ]]; then
        say "kept $DIR"
    else
        rm -rf "$DIR"
    fi
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# A port nothing listens on (127.0.0.1), not handed out before in this run.
TAKEN=" "
free_port() {
    local port i
    for ((i = 0; i < 200; i++)); do
        port=$((20000 + RANDOM % 40000))
        [[ $TAKEN == *" $port "* ]] && continue
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            TAKEN+="$port "
            printf '%s\n' "$port"
            return 0
        fi
    done
    die "no free port found"
}

# Waits until URL answers 200; fails if process PID exits first.
wait_ready() {
    local url=$1 pid=$2 what=$3 log=$4 i
    for ((i = 0; i < 300; i++)); do
        if [[ $(curl -s -o /dev/null -w '%{http_code}' --max-time 1 "$url" 2>/dev/null) == 200 ]]; then
            return 0
        fi
        kill -0 "$pid" 2>/dev/null || {
            tail -n 20 "$log" >&2 || true
            die "$what exited while starting (log: $log)"
        }
        sleep 0.1
    done
    tail -n 20 "$log" >&2 || true
    die "$what is not ready after 30 s at $url"
}

PORT_U=$(free_port)
PORT_N=$(free_port)
PORT_F=$(free_port)
PORT_T=$(free_port)
PORT_T2=$(free_port)
PORT_T3=$(free_port)

# --- upstream and nginx proxy ----------------------------------------------------

mkdir -p "$DIR/nginx-tmp"
nginx_common() {
    # $1: name (file prefix)
    cat <<EOF
worker_processes 2;
daemon off;
pid $DIR/$1.pid;
error_log $DIR/$1-error.log warn;
events { worker_connections 4096; }
EOF
}
nginx_http_common() {
    cat <<EOF
    access_log off;
    client_body_temp_path $DIR/nginx-tmp/$1-body;
    proxy_temp_path $DIR/nginx-tmp/$1-proxy;
    fastcgi_temp_path $DIR/nginx-tmp/$1-fastcgi;
    uwsgi_temp_path $DIR/nginx-tmp/$1-uwsgi;
    scgi_temp_path $DIR/nginx-tmp/$1-scgi;
    # wrk and tokengate keep their connections for the whole run; so does nginx
    # (its default closes a connection after 1000 requests).
    keepalive_requests 10000000;
    keepalive_timeout 60s;
EOF
}

{
    nginx_common upstream
    cat <<EOF
http {
$(nginx_http_common upstream)
    server {
        listen 127.0.0.1:$PORT_U;
        default_type application/json;
        location / {
            return 200 '{"ok":true,"id":"123","type":"page","title":"benchmark"}';
        }
    }
}
EOF
} >"$DIR/upstream.conf"

{
    nginx_common proxy
    cat <<EOF
http {
$(nginx_http_common proxy)
    upstream backend {
        server 127.0.0.1:$PORT_U;
        keepalive 64;
        keepalive_requests 10000000;
    }
    server {
        listen 127.0.0.1:$PORT_N;
        location / {
            proxy_pass http://backend;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }
    }
}
EOF
} >"$DIR/proxy.conf"

start_nginx() {
    local name=$1 port=$2
    "$NGINX" -t -q -p "$DIR" -c "$DIR/$name.conf" -e "$DIR/$name-error.log" ||
        die "nginx refuses $DIR/$name.conf"
    "$NGINX" -p "$DIR" -c "$DIR/$name.conf" -e "$DIR/$name-error.log" >"$DIR/$name.out" 2>&1 &
    PIDS+=($!)
    wait_ready "http://127.0.0.1:$port/healthz" "$!" "nginx $name" "$DIR/$name-error.log"
}

note "temporary directory $DIR"
start_nginx upstream "$PORT_U"
start_nginx proxy "$PORT_N"
NGINX_PROXY_PID=${PIDS[-1]}
"$FLOOR" "127.0.0.1:$PORT_F" "127.0.0.1:$PORT_U" >"$DIR/floor.log" 2>&1 &
PIDS+=($!)
FLOOR_PID=$!
wait_ready "http://127.0.0.1:$PORT_F/healthz" "$FLOOR_PID" "the floor (hyper-floor)" "$DIR/floor.log"

# --- PostgreSQL (issue 7) --------------------------------------------------------

if [[ $PG == 1 ]]; then
    PG_DATA=$DIR/pg
    chmod 711 "$DIR" # the postgres user goes through it to its own folders
    note "starting a private PostgreSQL cluster (tests/postgres.sh)"
    STORE=$(bash "$ROOT/tests/postgres.sh" start "$PG_DATA" "$(free_port)" 2>"$DIR/initdb.log") || {
        cat "$DIR/initdb.log" >&2
        die "tests/postgres.sh start failed"
    }
fi
STORE_ARGS=()
if ((USE_STORE)); then
    STORE_ARGS=(--store "$STORE")
    note "store: PostgreSQL at ${STORE#*@}"
else
    note "store: SQLite in the data directory (WAL, synchronous=FULL)"
fi

# --- tokengate and its token -----------------------------------------------------

DATA1=$DIR/data
DATA2=$DIR/data2

# 10 restriction lines; only the last admits the benchmarked path, so every request
# is checked against all ten.
LINES=""
for n in 1 2 3 4 5 6 7 8 9; do
    LINES+="[get].*/rest/api/space/A$n/.*"$'\n'
done
LINES+="[get].*/rest/api/content/.*"

note "creating the benchmark token (10 restriction lines)"
"$BIN" token create --data-dir "$DATA1" "${STORE_ARGS[@]}" --label bench --limit-to "$LINES" \
    >"$DIR/token.out" 2>"$DIR/token.err" || {
    cat "$DIR/token.err" >&2
    die "tokengate token create failed"
}
# The value is the one line on standard output; the id is in the message on stderr.
TOKEN=$(grep -E '^[[:graph:]]{16,256}$' "$DIR/token.out" | tail -n 1 || true)
TOKEN_ID=$(sed -n 's/.*created token \([^ ]*\).*/\1/p' "$DIR/token.err" | tail -n 1)
[[ -n $TOKEN ]] || die "no token value in the output of token create: $(cat "$DIR/token.out")"
[[ -n $TOKEN_ID ]] || die "no token id in the output of token create: $(cat "$DIR/token.err")"
rm -f "$DIR/token.out"
AUTH="Authorization: Basic $(printf 'bench:%s' "$TOKEN" | base64 -w0)"
say "token id $TOKEN_ID (unbound: Basic with any user; the benchmark uses 'bench')"

TG_PIDS=()
start_tokengate() {
    local port=$1 data=$2 log=$3
    shift 3
    "$BIN" serve --listen "127.0.0.1:$port" --upstream "http://127.0.0.1:$PORT_U" \
        --data-dir "$data" "$@" "${SERVE_EXTRA[@]}" >"$log" 2>&1 &
    PIDS+=($!)
    wait_ready "http://127.0.0.1:$port/healthz" "$!" "tokengate on port $port" "$log"
}
note "starting tokengate on 127.0.0.1:$PORT_T"
start_tokengate "$PORT_T" "$DATA1" "$DIR/tokengate.log" "${STORE_ARGS[@]}"
TG_PID=${PIDS[-1]}
TG_PIDS+=("$TG_PID")
if ((USE_STORE)); then
    # A second instance on the same database, with its own data directory holding a
    # copy of the first one's server key (tokens are digested with it).
    install -d -m 700 "$DATA2"
    install -m 600 "$DATA1/server.key" "$DATA2/server.key"
    note "starting a second tokengate on 127.0.0.1:$PORT_T2 (same store)"
    start_tokengate "$PORT_T2" "$DATA2" "$DIR/tokengate2.log" "${STORE_ARGS[@]}"
    TG_PIDS+=("${PIDS[-1]}")
    # The same binary on SQLite, measured in the same rounds (issue 18 compares them).
    DATA3=$DIR/data3
    "$BIN" token create --data-dir "$DATA3" --label bench --limit-to "$LINES" \
        >"$DIR/token3.out" 2>"$DIR/token3.err" || die "token create (SQLite): $(cat "$DIR/token3.err")"
    TOKEN3=$(grep -E '^[[:graph:]]{16,256}$' "$DIR/token3.out" | tail -n 1 || true)
    [[ -n $TOKEN3 ]] || die "no token value in the output of token create (SQLite)"
    AUTH3="Authorization: Basic $(printf 'bench:%s' "$TOKEN3" | base64 -w0)"
    note "starting tokengate on SQLite on 127.0.0.1:$PORT_T3 (for comparison)"
    start_tokengate "$PORT_T3" "$DATA3" "$DIR/tokengate3.log"
    TG3_PID=${PIDS[-1]}
    PG_PID=
    if [[ -n $PG_DATA ]]; then
        PG_PID=$(head -n 1 "$PG_DATA/data/postmaster.pid" 2>/dev/null || true)
    fi
fi

# --- checks before measuring -------------------------------------------------------

URL_U="http://127.0.0.1:$PORT_U$REQ_PATH"
URL_N="http://127.0.0.1:$PORT_N$REQ_PATH"
URL_F="http://127.0.0.1:$PORT_F$REQ_PATH"
URL_T="http://127.0.0.1:$PORT_T$REQ_PATH"
URL_T2="http://127.0.0.1:$PORT_T2$REQ_PATH"
URL_T3="http://127.0.0.1:$PORT_T3$REQ_PATH"

smoke() {
    local name=$1 url=$2 code
    shift 2
    code=$(curl -sS -o "$DIR/smoke.body" -w '%{http_code}' --max-time 5 "$@" "$url") || code=000
    if [[ $code != 200 ]] || ! grep -q '"ok":true' "$DIR/smoke.body"; then
        die "$name: $url answered $code: $(head -c 300 "$DIR/smoke.body" 2>/dev/null)"
    fi
}
smoke upstream "$URL_U"
smoke nginx "$URL_N"
smoke floor "$URL_F"
smoke tokengate "$URL_T" -H "$AUTH"
if ((USE_STORE)); then
    # Instance 2 learns about the token through the store (within 1 s by issue 7).
    for ((i = 0; i < 30; i++)); do
        [[ $(curl -s -o /dev/null -w '%{http_code}' -H "$AUTH" "$URL_T2") == 200 ]] && break
        sleep 0.1
    done
    smoke "tokengate #2" "$URL_T2" -H "$AUTH"
    smoke "tokengate on SQLite" "$URL_T3" -H "$AUTH3"
fi
code=$(curl -s -o /dev/null -w '%{http_code}' -u "bench:tgk_not_a_token_at_all_0000" "$URL_T")
[[ $code == 401 ]] || die "tokengate let a wrong token through ($code)"

# Allowed records of the bench token, counted exactly by the CLI.
audited() {
    local out
    out=$("$BIN" audit --data-dir "$DATA1" "${STORE_ARGS[@]}" --token-id "$TOKEN_ID" \
        --decision allow --count 2>&1) || die "tokengate audit --count failed: $out"
    [[ $out =~ ^[0-9]+$ ]] || die "unexpected tokengate audit --count output: $out"
    printf '%s\n' "$out"
}
# The smoke requests and the token's creation are in it already.
AUDIT_BEFORE=$(audited)
last=$("$BIN" audit --data-dir "$DATA1" "${STORE_ARGS[@]}" --token-id "$TOKEN_ID" --decision allow \
    --max-results 1 --json 2>/dev/null | tail -n 1)
if [[ $last =~ \"line\":10[,}] ]]; then
    say "the smoke request was admitted by line 10 of 10 (audit record)"
else
    error "the audit record of the smoke request does not name line 10: $last"
fi

# --- measuring ---------------------------------------------------------------------

# wrk's output → "req/s p50_ms p99_ms requests non2xx socket_errors".
parse_wrk() {
    awk '
        function ms(v,   n, u) {
            n = v; sub(/[a-z]+$/, "", n)
            u = v; sub(/^[0-9.]+/, "", u)
            if (u == "us") return n / 1000
            if (u == "ms") return n + 0
            if (u == "s") return n * 1000
            if (u == "m") return n * 60000
            if (u == "h") return n * 3600000
            return -1
        }
        $1 == "50%" { p50 = ms($2) }
        $1 == "99%" { p99 = ms($2) }
        / requests in / { reqs = $1 }
        /^Requests\/sec:/ { rps = $2 }
        /Non-2xx or 3xx responses:/ { non = $NF }
        /Socket errors:/ {
            line = $0; gsub(/[^0-9]+/, " ", line)
            n = split(line, a, " "); for (i = 1; i <= n; i++) se += a[i]
        }
        END {
            if (rps == "" || reqs == "") { print "-"; exit }
            printf "%.2f %.3f %.3f %d %d %d\n", rps, p50, p99, reqs, non, se
        }' "$1"
}

# RSS (kB) of the given pids every INTERVAL seconds, "epoch pid kB" lines to FILE.
SAMPLER=
start_sampler() {
    local interval=$1 file=$2
    shift 2
    (
        sp=
        trap 'kill "$sp" 2>/dev/null; exit 0' TERM
        while :; do
            now=$(date +%s)
            for pid in "$@"; do
                rss=$(awk '/^VmRSS:/ { print $2 }' "/proc/$pid/status" 2>/dev/null || true)
                [[ -n $rss ]] && printf '%s %s %s\n' "$now" "$pid" "$rss" >>"$file"
            done
            sleep "$interval" &
            sp=$!
            wait "$sp"
        done
    ) &
    SAMPLER=$!
    PIDS+=("$SAMPLER")
}
stop_sampler() {
    [[ -n $SAMPLER ]] || return 0
    kill -TERM "$SAMPLER" 2>/dev/null || true
    wait "$SAMPLER" 2>/dev/null || true
    forget "$SAMPLER"
    SAMPLER=
}

rss_now() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0; }

# Forgets a pid that was waited for (a reaped pid may be reused by anyone).
forget() {
    local keep=() pid
    for pid in "${PIDS[@]}"; do
        [[ $pid == "$1" ]] || keep+=("$pid")
    done
    PIDS=("${keep[@]}")
}

# Runs wrk in the background (so that the trap can stop it) and waits for it.
run_wrk() {
    local url=$1 conns=$2 threads=$3 duration=$4 out=$5
    shift 5
    wrk -t"$threads" -c"$conns" -d"$duration" --latency "$@" "$url" >"$out" 2>&1 &
    WRK_PID=$!
    PIDS+=("$WRK_PID")
}
wait_wrk() {
    wait "$1" || true
    forget "$1"
}

# Reads one wrk output into R_* and reports its errors loudly.
take_result() {
    local label=$1 out=$2 parsed
    parsed=$(parse_wrk "$out")
    if [[ $parsed == - ]]; then
        error "$label: wrk gave no result (output in $out): $(tr '\n' ' ' <"$out" | head -c 400)"
        R_RPS=0 R_P50=0 R_P99=0 R_REQS=0 R_NON=0 R_SOCK=0
        return
    fi
    read -r R_RPS R_P50 R_P99 R_REQS R_NON R_SOCK <<<"$parsed"
    if ((R_NON > 0)); then
        error "$label: $R_NON responses were not 2xx/3xx (of $R_REQS)"
    fi
    if ((R_SOCK > 0)); then
        error "$label: $R_SOCK socket errors ($(grep 'Socket errors' "$out" | sed 's/^ *//'))"
    fi
}

# One wrk run against URL, into R_*.
wrk_once() {
    local label=$1 url=$2 conns=$3 threads=$4 duration=$5 out=$6
    shift 6
    run_wrk "$url" "$conns" "$threads" "$duration" "$out" "$@"
    wait_wrk "$WRK_PID"
    take_result "$label" "$out"
}

declare -A RPS P50 P99
declare -A CPU_TICKS CPU_REQS # per target: CPU (user + system, clock ticks) in measured runs, and requests
TG_REQUESTS=0 # every request wrk completed against tokengate (warm-up included)
TG_RUNS=0     # wrk runs against tokengate (a two-instance run counts once: CONNS in all)

# User plus system CPU time of processes (and their children: nginx's workers) so far,
# in clock ticks.
cpu_ticks() {
    local pid total=0 child
    for pid in "$@"; do
        total=$((total + $(awk '{ print $14 + $15 }' "/proc/$pid/stat" 2>/dev/null || echo 0)))
        for child in $(pgrep -P "$pid" 2>/dev/null); do
            total=$((total + $(awk '{ print $14 + $15 }' "/proc/$child/stat" 2>/dev/null || echo 0)))
        done
    done
    printf '%s\n' "$total"
}
# The processes whose CPU a target's requests cost (the upstream's is not counted).
target_pids() {
    case $1 in
    nginx) printf '%s\n' "$NGINX_PROXY_PID" ;;
    floor) printf '%s\n' "$FLOOR_PID" ;;
    tokengate) printf '%s\n' "$TG_PID" ;;
    tokengate-x2) printf '%s\n' "${TG_PIDS[@]}" ;;
    tokengate-sqlite) printf '%s\n' "$TG3_PID" ;;
    esac
}

# The ports of the gateways a target's requests go to.
target_ports() {
    case $1 in
    tokengate) printf '%s\n' "$PORT_T" ;;
    tokengate-x2) printf '%s\n' "$PORT_T" "$PORT_T2" ;;
    tokengate-sqlite) printf '%s\n' "$PORT_T3" ;;
    esac
}
# "commits commit_seconds answered" summed over the gateways on the given ports.
audit_snapshot() {
    local port
    for port in "$@"; do
        curl -s --max-time 5 "http://127.0.0.1:$port/metrics" || true
    done | awk '
        /^tokengate_audit_commit_duration_seconds_count/ { c += $2 }
        /^tokengate_audit_commit_duration_seconds_sum/ { s += $2 }
        /^tokengate_requests_total/ && !/decision="internal"/ { n += $NF }
        END { printf "%d %.6f %d\n", c, s, n }'
}
declare -A AUDIT_COMMITS AUDIT_SECONDS AUDIT_ANSWERED WALL PG_TICKS

# Measures TARGET once; ROUND "warmup" is not recorded.
measure() {
    local target=$1 round=$2 duration=$3
    local out=$DIR/wrk-$target-$round.txt label="$1 round $2" cpu_before=0 pids ports
    local audit_before=(0 0 0) audit_after pg_before=0 wall_before
    mapfile -t pids < <(target_pids "$target")
    mapfile -t ports < <(target_ports "$target")
    ((${#pids[@]})) && cpu_before=$(cpu_ticks "${pids[@]}")
    ((${#ports[@]})) && read -r -a audit_before <<<"$(audit_snapshot "${ports[@]}")"
    [[ -n ${PG_PID:-} ]] && pg_before=$(cpu_ticks "$PG_PID")
    wall_before=$(date +%s.%N)
    case $target in
    upstream) wrk_once "$label" "$URL_U" "$CONNS" "$THREADS" "$duration" "$out" ;;
    nginx) wrk_once "$label" "$URL_N" "$CONNS" "$THREADS" "$duration" "$out" ;;
    floor) wrk_once "$label" "$URL_F" "$CONNS" "$THREADS" "$duration" "$out" ;;
    tokengate)
        start_sampler 1 "$DIR/rss.txt" "${TG_PIDS[@]}"
        wrk_once "$label" "$URL_T" "$CONNS" "$THREADS" "$duration" "$out" -H "$AUTH"
        stop_sampler
        TG_REQUESTS=$((TG_REQUESTS + R_REQS))
        TG_RUNS=$((TG_RUNS + 1))
        ;;
    tokengate-x2)
        # Two wrk processes at once, half the connections each, one per instance.
        local half=$((CONNS / 2)) threads=$(((THREADS + 1) / 2)) w1 w2
        start_sampler 1 "$DIR/rss.txt" "${TG_PIDS[@]}"
        run_wrk "$URL_T" "$half" "$threads" "$duration" "$out.1" -H "$AUTH"
        w1=$WRK_PID
        run_wrk "$URL_T2" "$half" "$threads" "$duration" "$out.2" -H "$AUTH"
        w2=$WRK_PID
        wait_wrk "$w1"
        wait_wrk "$w2"
        stop_sampler
        local r1 a1 b1 n1 r2 a2 b2 n2
        take_result "$label (instance 1)" "$out.1"
        r1=$R_RPS a1=$R_P50 b1=$R_P99 n1=$R_REQS
        take_result "$label (instance 2)" "$out.2"
        r2=$R_RPS a2=$R_P50 b2=$R_P99 n2=$R_REQS
        R_RPS=$(awk -v a="$r1" -v b="$r2" 'BEGIN { printf "%.2f", a + b }')
        # The p50 of the union is not known from two histograms: the larger is shown.
        R_P50=$(awk -v a="$a1" -v b="$a2" 'BEGIN { print (a > b ? a : b) }')
        R_P99=$(awk -v a="$b1" -v b="$b2" 'BEGIN { print (a > b ? a : b) }')
        R_REQS=$((n1 + n2))
        TG_REQUESTS=$((TG_REQUESTS + R_REQS))
        TG_RUNS=$((TG_RUNS + 1))
        ;;
    tokengate-sqlite) wrk_once "$label" "$URL_T3" "$CONNS" "$THREADS" "$duration" "$out" -H "$AUTH3" ;;
    esac
    if [[ $round != warmup ]] && ((${#pids[@]})); then
        CPU_TICKS[$target]=$((${CPU_TICKS[$target]:-0} + $(cpu_ticks "${pids[@]}") - cpu_before))
        CPU_REQS[$target]=$((${CPU_REQS[$target]:-0} + R_REQS))
    fi
    if [[ $round != warmup ]] && ((${#ports[@]})); then
        read -r -a audit_after <<<"$(audit_snapshot "${ports[@]}")"
        AUDIT_COMMITS[$target]=$((${AUDIT_COMMITS[$target]:-0} + audit_after[0] - audit_before[0]))
        AUDIT_ANSWERED[$target]=$((${AUDIT_ANSWERED[$target]:-0} + audit_after[2] - audit_before[2]))
        AUDIT_SECONDS[$target]=$(awk -v t="${AUDIT_SECONDS[$target]:-0}" -v a="${audit_after[1]}" -v b="${audit_before[1]}" 'BEGIN { printf "%.6f", t + a - b }')
        WALL[$target]=$(awk -v t="${WALL[$target]:-0}" -v a="$(date +%s.%N)" -v b="$wall_before" 'BEGIN { printf "%.3f", t + a - b }')
        if [[ -n ${PG_PID:-} && $target != tokengate-sqlite ]]; then
            PG_TICKS[$target]=$((${PG_TICKS[$target]:-0} + $(cpu_ticks "$PG_PID") - pg_before))
        fi
    fi
    if [[ $round != warmup ]]; then
        RPS[$target:$round]=$R_RPS
        P50[$target:$round]=$R_P50
        P99[$target:$round]=$R_P99
        printf '%-14s %5s %12s %9s %9s %11s\n' "$target" "$round" "$R_RPS" "$R_P50" "$R_P99" "$R_REQS"
    fi
    sleep 1
}

TARGETS=(upstream nginx floor tokengate)
((USE_STORE)) && TARGETS+=(tokengate-x2 tokengate-sqlite)

RSS_START=$(rss_now "$TG_PID")
if ((ROUNDS > 0)); then
    say ""
    note "wrk -t$THREADS -c$CONNS -d$DURATION --latency, GET $REQ_PATH, $ROUNDS round(s), targets alternating"
    if ((USE_STORE)); then
        say "   (tokengate-x2: two wrk processes, $((CONNS / 2)) connections each, one per instance; p50/p99 = the larger)"
    fi
    if [[ $WARMUP != 0 && $WARMUP != 0s ]]; then
        say "   (after a ${WARMUP} warm-up run of each target, not shown)"
        for target in "${TARGETS[@]}"; do
            measure "$target" warmup "$WARMUP"
        done
    fi
    say ""
    printf '%-14s %5s %12s %9s %9s %11s\n' target round "req/s" "p50 ms" "p99 ms" requests
    printf '%-14s %5s %12s %9s %9s %11s\n' ------ ----- ----- ------ ------ --------
    for ((round = 1; round <= ROUNDS; round++)); do
        for target in "${TARGETS[@]}"; do
            measure "$target" "$round" "$DURATION"
        done
    done
fi

median() {
    sort -g | awk '{ v[NR] = $1 }
        END {
            if (NR == 0) { print "nan"; exit }
            if (NR % 2) print v[(NR + 1) / 2]; else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2
        }'
}
declare -A MED_RPS MED_P50 MED_P99
MISSED=()
if ((ROUNDS > 0)); then
    say ""
    note "median over $ROUNDS round(s)"
    printf '%-14s %12s %9s %9s\n' target "req/s" "p50 ms" "p99 ms"
    for target in "${TARGETS[@]}"; do
        r=() a=() b=()
        for ((round = 1; round <= ROUNDS; round++)); do
            r+=("${RPS[$target:$round]}")
            a+=("${P50[$target:$round]}")
            b+=("${P99[$target:$round]}")
        done
        MED_RPS[$target]=$(printf '%s\n' "${r[@]}" | median)
        MED_P50[$target]=$(printf '%s\n' "${a[@]}" | median)
        MED_P99[$target]=$(printf '%s\n' "${b[@]}" | median)
        printf '%-14s %12s %9s %9s\n' "$target" "${MED_RPS[$target]}" "${MED_P50[$target]}" "${MED_P99[$target]}"
    done

    say ""
    note "tokengate against nginx (medians)"
    ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.3f", a / b; else print "nan" }'; }
    # met when A OP B holds (OP: ge or le), else MISSED.
    verdict() {
        if awk -v a="$1" -v op="$2" -v b="$3" 'BEGIN { exit !(op == "ge" ? a + 0 >= b + 0 : a + 0 <= b + 0) }'; then
            echo met
        else
            echo MISSED
        fi
    }
    tg_rps=${MED_RPS[tokengate]} ng_rps=${MED_RPS[nginx]} tg_p99=${MED_P99[tokengate]}
    r_rps=$(ratio "$tg_rps" "$ng_rps")
    r_floor=$(ratio "$tg_rps" "${MED_RPS[floor]}")
    printf 'req/s  tokengate/nginx = %s, tokengate/floor = %s  (tokengate/upstream = %s)\n' "$r_rps" "$r_floor" "$(ratio "$tg_rps" "${MED_RPS[upstream]}")"
    printf 'p50    tokengate/nginx = %s  (%s ms vs %s ms)\n' "$(ratio "${MED_P50[tokengate]}" "${MED_P50[nginx]}")" "${MED_P50[tokengate]}" "${MED_P50[nginx]}"
    printf 'p99    tokengate/nginx = %s  (%s ms vs %s ms)\n' "$(ratio "$tg_p99" "${MED_P99[nginx]}")" "$tg_p99" "${MED_P99[nginx]}"
    v=$(verdict "$r_rps" ge "$TARGET_RATIO")
    [[ $v == met ]] || MISSED+=("throughput")
    printf 'target tokengate req/s >= %s x nginx: %s (%s)\n' "$TARGET_RATIO" "$v" "$r_rps"
    v=$(verdict "$r_floor" ge "$TARGET_FLOOR_RATIO")
    [[ $v == met ]] || MISSED+=("throughput-floor")
    printf 'target tokengate req/s >= %s x floor: %s (%s)\n' "$TARGET_FLOOR_RATIO" "$v" "$r_floor"
    v=$(verdict "$tg_p99" le "$TARGET_P99_MS")
    [[ $v == met ]] || MISSED+=("p99")
    printf 'target tokengate p99 <= %s ms at %s connections: %s (%s ms)%s\n' "$TARGET_P99_MS" "$CONNS" "$v" "$tg_p99" \
        "$([[ $CONNS == 32 ]] || echo '  [the target is stated for 32 connections]')"
    for target in nginx floor tokengate tokengate-x2 tokengate-sqlite; do
        ((${CPU_REQS[$target]:-0} > 0)) || continue
        awk -v name="$target" -v t="${CPU_TICKS[$target]}" -v hz="$(getconf CLK_TCK)" -v n="${CPU_REQS[$target]}" -v rps="${MED_RPS[$target]}" 'BEGIN {
            us = t / hz * 1e6 / n
            printf "%-16s CPU (user + system): %5.1f us per request, %.2f cores at the median req/s\n", name, us, us * rps / 1e6 }'
    done
    if ((${CPU_REQS[tokengate]:-0} > 0)); then
        tg_cpu=$(awk -v t="${CPU_TICKS[tokengate]}" -v hz="$(getconf CLK_TCK)" -v n="${CPU_REQS[tokengate]}" 'BEGIN { printf "%.1f", t / hz * 1e6 / n }')
        v=$(verdict "$tg_cpu" le "$TARGET_CPU_US")
        [[ $v == met ]] || MISSED+=("cpu")
        printf 'target tokengate CPU <= %s us per request: %s (%s us)\n' "$TARGET_CPU_US" "$v" "$tg_cpu"
    fi
    if ((USE_STORE)); then
        printf 'PostgreSQL store: one instance %s req/s, two instances %s req/s (x%s), p99 %s / %s ms\n' \
            "$tg_rps" "${MED_RPS[tokengate-x2]}" "$(ratio "${MED_RPS[tokengate-x2]}" "$tg_rps")" \
            "$tg_p99" "${MED_P99[tokengate-x2]}"
        printf 'SQLite store, same rounds: %s req/s, p99 %s ms\n' "${MED_RPS[tokengate-sqlite]}" "${MED_P99[tokengate-sqlite]}"
        r_pg=$(ratio "$tg_rps" "${MED_RPS[tokengate-sqlite]}")
        v=$(verdict "$r_pg" ge 0.8)
        [[ $v == met ]] || MISSED+=("pg-vs-sqlite")
        printf 'target one instance on PostgreSQL >= 0.8 x SQLite: %s (%s)\n' "$v" "$r_pg"
        r_x2=$(ratio "${MED_RPS[tokengate-x2]}" "$tg_rps")
        v=$(verdict "$r_x2" ge 1.0)
        [[ $v == met ]] || MISSED+=("two-instances")
        printf 'target two instances >= 1.0 x one: %s (%s)\n' "$v" "$r_x2"
        for target in tokengate tokengate-x2; do
            v=$(verdict "${MED_P99[$target]}" le 10)
            [[ $v == met ]] || MISSED+=("p99-pg-$target")
            printf 'target p99 <= 10 ms on PostgreSQL (%s): %s (%s ms)\n' "$target" "$v" "${MED_P99[$target]}"
        done
        for target in tokengate tokengate-x2; do
            ((${CPU_REQS[$target]:-0} > 0 && ${PG_TICKS[$target]:-0} > 0)) || continue
            awk -v name="$target" -v t="${PG_TICKS[$target]}" -v hz="$(getconf CLK_TCK)" -v n="${CPU_REQS[$target]}" -v rps="${MED_RPS[$target]}" 'BEGIN {
                us = t / hz * 1e6 / n
                printf "PostgreSQL CPU during %-12s %5.1f us per request, %.2f cores at the median req/s\n", name ":", us, us * rps / 1e6 }'
        done
    fi
    # Per target, from the gateways' metrics around the measured runs: commits, their
    # mean latency, records per commit, and commits in flight on average (time spent
    # committing over wall time, per gateway).
    for target in tokengate tokengate-x2 tokengate-sqlite; do
        ((${AUDIT_COMMITS[$target]:-0} > 0)) || continue
        awk -v name="$target" -v c="${AUDIT_COMMITS[$target]}" -v s="${AUDIT_SECONDS[$target]}" \
            -v n="${AUDIT_ANSWERED[$target]}" -v w="${WALL[$target]}" -v g="$(target_ports "$target" | wc -l)" 'BEGIN {
            printf "audit %-16s %8d commits, mean %.2f ms, %.1f records per commit, %.2f commits in flight per gateway\n", name ":", c, s * 1000 / c, n / c, s / w / g }'
    done
fi

# --- memory over a long run ----------------------------------------------------------

if ((MEMORY_RUN > 0)); then
    say ""
    note "memory run: tokengate alone for ${MEMORY_RUN}s (wrk -t$THREADS -c$CONNS), RSS every 10 s"
    rm -f "$DIR/rss-long.txt"
    start_sampler 10 "$DIR/rss-long.txt" "$TG_PID"
    wrk_once "memory run" "$URL_T" "$CONNS" "$THREADS" "${MEMORY_RUN}s" "$DIR/wrk-memory.txt" -H "$AUTH"
    stop_sampler
    TG_REQUESTS=$((TG_REQUESTS + R_REQS))
    TG_RUNS=$((TG_RUNS + 1))
    printf 'memory run: %s req/s, p50 %s ms, p99 %s ms, %s requests\n' "$R_RPS" "$R_P50" "$R_P99" "$R_REQS"
    # Seconds since the start of the run, RSS in MiB.
    awk 'NR == 1 { t0 = $1 } { printf "  %4ds  %8.1f MiB\n", $1 - t0, $3 / 1024 }' "$DIR/rss-long.txt"
    flat=$(awk -v total="$MEMORY_RUN" -v pct="$FLAT_PCT" '
        NR == 1 { t0 = $1 }
        {
            t = $1 - t0
            # Minute 2 against the last minute; for runs under 3 minutes, the second
            # third against the last third.
            if (total >= 180) { a0 = 60; a1 = 120; b0 = total - 60 } else { a0 = total / 3; a1 = 2 * total / 3; b0 = a1 }
            if (t >= a0 && t < a1 && $3 > amax) amax = $3
            if (t >= b0 && $3 > bmax) bmax = $3
        }
        END {
            if (amax == 0 || bmax == 0) { print "unknown (too few samples)"; exit }
            d = (bmax - amax) * 100 / amax
            printf "%s: max %.1f MiB early, %.1f MiB at the end (%+.1f %%, limit %d %%)\n", \
                (d <= pct ? "flat" : "GROWING"), amax / 1024, bmax / 1024, d, pct
        }' "$DIR/rss-long.txt")
    say "memory: $flat"
    [[ $flat == flat* ]] || MISSED+=("memory")
fi

# --- resident memory -----------------------------------------------------------------

RSS_END=$(rss_now "$TG_PID")
say ""
note "tokengate resident memory (VmRSS, sampled during its runs: every second, every 10 s in the memory run)"
printf 'start (idle, before any load): %.1f MiB\n' "$(awk -v k="$RSS_START" 'BEGIN { print k / 1024 }')"
cat "$DIR/rss.txt" "$DIR/rss-long.txt" >"$DIR/rss-all.txt" 2>/dev/null || true
for pid in "${TG_PIDS[@]}"; do
    if [[ -s $DIR/rss-all.txt ]]; then
        awk -v pid="$pid" -v name="$([[ $pid == "$TG_PID" ]] && echo 'instance 1' || echo 'instance 2')" '
            $2 == pid { if (!n++) first = $3; if ($3 > peak) peak = $3; last = $3 }
            END { if (n) printf "%s: first sample %.1f MiB, peak %.1f MiB, last sample %.1f MiB (%d samples)\n", name, first / 1024, peak / 1024, last / 1024, n }
        ' "$DIR/rss-all.txt"
    fi
done
printf 'end (after the runs): %.1f MiB\n' "$(awk -v k="$RSS_END" 'BEGIN { print k / 1024 }')"

# --- the audit log -------------------------------------------------------------------

say ""
note "audit: every request tokengate answered is an allowed record of the bench token"
sleep 1 # requests wrk abandoned at the end of a run finish
AUDIT_AFTER=$(audited)
AUDITED=$((AUDIT_AFTER - AUDIT_BEFORE))
printf 'audited (allowed, bench token, during the runs): %s\nwrk completed against tokengate:                 %s\n' "$AUDITED" "$TG_REQUESTS"
# A request in flight when wrk stops is audited (the record is committed before it is
# forwarded) but not counted by wrk: at most one per connection per run.
slack=$((CONNS * TG_RUNS))
if ((AUDITED == TG_REQUESTS)); then
    say "audit: exact match"
elif ((AUDITED > TG_REQUESTS && AUDITED - TG_REQUESTS <= slack)); then
    say "audit: $((AUDITED - TG_REQUESTS)) more records than wrk counted: requests in flight when wrk stopped (at most $CONNS per run)"
else
    error "audit count $AUDITED does not match wrk's $TG_REQUESTS requests (difference $((AUDITED - TG_REQUESTS)))"
fi
if ((USE_STORE == 0)) && command -v sqlite3 >/dev/null 2>&1; then
    integrity=$(sqlite3 "file:$DATA1/tokengate.db?mode=ro" 'PRAGMA quick_check;' 2>&1 || true)
    say "sqlite quick_check: $integrity"
fi
metrics=$(curl -s --max-time 5 "http://127.0.0.1:$PORT_T/metrics" || true)
commits=$(awk '/^tokengate_audit_commit_duration_seconds_count/ { print $2 }' <<<"$metrics")
commit_sum=$(awk '/^tokengate_audit_commit_duration_seconds_sum/ { print $2 }' <<<"$metrics")
# Token requests that instance 1 answered (each one audited), against its commits.
answered=$(awk '/^tokengate_requests_total/ && !/decision="internal"/ { n += $NF } END { print n + 0 }' <<<"$metrics")
if [[ -n $commits && $commits != 0 ]]; then
    awk -v c="$commits" -v s="$commit_sum" -v n="$answered" 'BEGIN {
        printf "audit commits (instance 1): %d, mean %.3f ms each, about %.1f records per commit\n", c, s * 1000 / c, n / c }'
fi
# How long commits took: the share of them over each bound (the tail that p99 shows).
awk -v c="${commits:-0}" '/^tokengate_audit_commit_duration_seconds_bucket/ && c > 0 {
    match($0, /le="[^"]+"/); le = substr($0, RSTART + 4, RLENGTH - 5)
    if (le == "0.0025" || le == "0.01" || le == "0.05") printf "audit commits over %g ms: %.2f %%\n", le * 1000, (c - $2) * 100 / c
}' <<<"$metrics"
grep '^tokengate_requests_total' <<<"$metrics" | sed 's/^/metrics (instance 1): /' || true
# With SERVE_ARGS="--audit-sink …": what the sink took, and the delay from each request to
# its record's delivery (the histogram's bucket that holds the median and the 99th
# percentile, and the mean).
if grep -q '^tokengate_audit_sink_delivered_total' <<<"$metrics"; then
    grep -E '^tokengate_audit_sink_(active|delivered_total|failures_total|lag_records|lag_seconds) ' <<<"$metrics" |
        sed 's/^/audit sink (instance 1): /'
    awk '/^tokengate_audit_sink_delay_seconds_bucket/ {
        match($0, /le="[^"]+"/); le[n] = substr($0, RSTART + 4, RLENGTH - 5); count[n++] = $2 }
    /^tokengate_audit_sink_delay_seconds_sum/ { sum = $2 }
    /^tokengate_audit_sink_delay_seconds_count/ { total = $2 }
    END {
        if (total == 0) exit
        for (q = 1; q <= 2; q++) {
            want = (q == 1 ? 0.5 : 0.99) * total
            for (i = 0; i < n && count[i] < want; i++) {}
            printf "audit sink delay, request to delivery: p%s <= %s s\n", (q == 1 ? 50 : 99), le[i]
        }
        printf "audit sink delay: mean %.1f ms over %d records\n", sum * 1000 / total, total
    }' <<<"$metrics"
fi
if [[ -s $DIR/tokengate.log ]]; then
    warnings=$(grep -c -E 'WARN|ERROR' "$DIR/tokengate.log" || true)
    ((warnings == 0)) || say "tokengate logged $warnings warnings/errors, e.g.: $(grep -m 3 -E 'WARN|ERROR' "$DIR/tokengate.log")"
fi

# --- verdict -------------------------------------------------------------------------

say ""
if ((${#ERRORS[@]})); then
    printf '!!!!!!!! %d ERROR(S):\n' "${#ERRORS[@]}"
    printf '!!!!!!!!   %s\n' "${ERRORS[@]}"
    exit 1
fi
if ((${#MISSED[@]})); then
    say "clean runs; targets missed: ${MISSED[*]}"
    [[ $STRICT == 1 ]] && exit 2
else
    say "clean runs; targets met (those measured)"
fi
exit 0
