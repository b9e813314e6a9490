#!/usr/bin/env bash
# Scale with data (issue 6), run by hand:
#
#   bash tests/bench/scale.sh                              # 1,000,000 tokens, 10,000,000 audit records
#   TOKENS=100000 RECORDS=1000000 bash tests/bench/scale.sh
#
# Fills a SQLite data directory (two real tokens made by the CLI, the rest written
# with SQL: random digests, 1,000 users, 10 % refusals, records spread over the past
# days), then starts `tokengate serve` on it and prints: start-up time to a ready
# /healthz, resident memory, requests/s with the probe token (wrk, 10 s), and the
# time of audit queries with each filter through the admin API (target ≤ 100 ms).
# GATEWAY_BIN skips the build; KEEP=1 keeps the directory.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
TOKENS=${TOKENS:-1000000}
RECORDS=${RECORDS:-10000000}
KEEP=${KEEP:-0}
PORT_U=${PORT_U:-18431}
PORT_T=${PORT_T:-18432}

for tool in sqlite3 curl wrk; do
  if ! command -v "$tool" >/dev/null; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq && apt-get install -y -qq sqlite3 curl wrk >/dev/null
    break
  fi
done

BIN=${GATEWAY_BIN:-}
if [[ -z $BIN ]]; then
  (cd "$ROOT" && cargo build --release --locked -p tokengate)
  BIN=${CARGO_TARGET_DIR:-$ROOT/target}/release/tokengate
fi

DIR=$(mktemp -d /tmp/tokengate-scale.XXXXXX)
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
  if [[ $KEEP == 1 ]]; then echo "kept $DIR"; else rm -rf "$DIR"; fi
}
trap cleanup EXIT
for name in $(compgen -v TOKENGATE_ || true); do unset "$name"; done

ms() { date +%s%3N; }
rss_mib() { awk '/^VmRSS:/ { printf "%.1f", $2 / 1024 }' "/proc/$1/status"; }

DATA=$DIR/data
ADMIN=$("$BIN" token create --data-dir "$DATA" --label admin --user admin 2>/dev/null)
PROBE=$("$BIN" token create --data-dir "$DATA" --label probe --user alice \
  --limit-to '[get].*/rest/api/content/.*' 2>/dev/null)

echo "== filling: $TOKENS tokens, $RECORDS audit records"
started=$(ms)
sqlite3 "$DATA/tokengate.db" <<SQL
PRAGMA journal_mode = WAL;
PRAGMA synchronous = NORMAL;
BEGIN;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $TOKENS - 2)
INSERT INTO tokens (id, digest, hint, label, user, limit_to, ip, date_created, created_by)
SELECT printf('scale%015d', i), randomblob(32), 'tgk_…' || substr('000' || i, -4),
       'scale token ' || i, 'user' || (i % 1000),
       '[get].*/rest/api/space/S' || i || '/.*' || char(10) || '[post].*/rest/api/content/' || i,
       '', 1700000000000 + i, 'scale'
FROM n;
COMMIT;
BEGIN;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $RECORDS)
INSERT INTO audit (time, token_id, user, client_ip, method, url, decision, reason, line,
                   upstream_status, latency_ms, component)
SELECT CAST(strftime('%s', 'now') AS INTEGER) * 1000 - ($RECORDS - i) * 100,
       printf('scale%015d', i % 100000 + 1), 'user' || (i % 1000),
       '10.0.' || (i % 250) || '.' || (i % 200), 'GET',
       'https://wiki.example.com/rest/api/space/S' || (i % 100000),
       CASE WHEN i % 10 = 0 THEN 'deny' ELSE 'allow' END,
       CASE WHEN i % 10 = 0 THEN 'no-matching-rule' END,
       CASE WHEN i % 10 = 0 THEN NULL ELSE 1 END, 200, 3, 'scale'
FROM n;
COMMIT;
PRAGMA wal_checkpoint(TRUNCATE);
SQL
echo "filled in $(( ($(ms) - started) / 1000 )) s; database $(du -h "$DATA/tokengate.db" | cut -f1)"

# A fixed upstream outside the gateway's process: nginx answering a small JSON body.
cat >"$DIR/upstream.conf" <<CONF
worker_processes 1;
error_log $DIR/nginx.err;
pid $DIR/nginx.pid;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path $DIR/tmp;
  proxy_temp_path $DIR/tmp;
  fastcgi_temp_path $DIR/tmp;
  uwsgi_temp_path $DIR/tmp;
  scgi_temp_path $DIR/tmp;
  server { listen 127.0.0.1:$PORT_U; default_type application/json; return 200 '{"ok":true}'; }
}
CONF
mkdir -p "$DIR/tmp"
command -v nginx >/dev/null || { apt-get install -y -qq nginx >/dev/null; }
nginx -p "$DIR" -c "$DIR/upstream.conf" -g 'daemon off;' &
PIDS+=($!)

echo "== starting tokengate on $TOKENS tokens"
started=$(ms)
"$BIN" serve --listen "127.0.0.1:$PORT_T" --upstream "http://127.0.0.1:$PORT_U" \
  --data-dir "$DATA" --admins admin >"$DIR/gateway.log" 2>&1 &
TG=$!
PIDS+=("$TG")
until curl -fsS "http://127.0.0.1:$PORT_T/healthz" >/dev/null 2>&1; do
  kill -0 "$TG" || { cat "$DIR/gateway.log"; exit 1; }
  sleep 0.05
done
echo "ready in $(( $(ms) - started )) ms; resident memory $(rss_mib "$TG") MiB"
curl -fsS "http://127.0.0.1:$PORT_T/healthz"; echo

echo "== requests with the probe token (wrk -t2 -c32 -d10s)"
wrk -t2 -c32 -d10s --latency -H "Authorization: Basic $(printf 'alice:%s' "$PROBE" | base64 -w0)" \
  "http://127.0.0.1:$PORT_T/rest/api/content/1" | grep -E 'Requests/sec|50%|99%|Non-2xx'
echo "resident memory after load $(rss_mib "$TG") MiB"

echo "== audit queries through the admin API (50 records a page; target <= 100 ms)"
AUTH="Authorization: Basic $(printf 'admin:%s' "$ADMIN" | base64 -w0)"
now=$(ms)
query() {
  local what=$1 params=$2 seconds
  seconds=$(curl -fsS -o "$DIR/q.json" -w '%{time_total}' -H "$AUTH" \
    "http://127.0.0.1:$PORT_T/rest/extender/1.0/tokenTools/audit?maxResults=50&$params")
  printf '%-34s %7.1f ms  total=%s exact=%s\n' "$what" "$(echo "$seconds * 1000" | bc -l)" \
    "$(grep -o '"total":[0-9]*' "$DIR/q.json" | cut -d: -f2)" \
    "$(grep -o '"totalExact":[a-z]*' "$DIR/q.json" | cut -d: -f2)"
}
command -v bc >/dev/null || apt-get install -y -qq bc >/dev/null
query "newest, no filter" ""
query "one token" "tokenId=scale000000000004242"
query "one user" "user=user42"
query "refusals" "decision=deny"
query "one token's refusals" "tokenId=scale000000000004240&decision=deny"
query "the last hour" "from=$((now - 3600000))&to=$now"
query "a day a week ago" "from=$((now - 8 * 86400000))&to=$((now - 7 * 86400000))"
query "one user, a day a week ago" "user=user7&from=$((now - 8 * 86400000))&to=$((now - 7 * 86400000))"
query "page 100 of refusals" "decision=deny&startAt=5000"
