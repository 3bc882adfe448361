#!/usr/bin/env bash
# One hub node against three on the same PostgreSQL database behind HAProxy, on this machine, with
# the load tool's echo bot (docs/benchmarks.md, "Cluster"). The nodes share the machine's cores,
# so this shows what clustering costs, not how it scales. Also times the sweep's takeover over ten
# kills of its leader. Needs a release build (cargo build --release -p switchboard -p
# switchboard-bench), PostgreSQL on 127.0.0.1:5432 (trust) and haproxy.
#
#   compat/bench/cluster.sh [customers] [messages]
#
# With XNODE_PYTHON set to a Python that has `websocket-client` and `requests`, it also measures
# the cross-node event latency (compat/bench/cross_node.py).
set -euo pipefail
cd "$(dirname "$0")/../.."
B=${B:-target/release}
CUSTOMERS=${1:-20}
MESSAGES=${2:-200}
PG=${PG:-postgres://postgres@127.0.0.1:5432}
DB=sb_cluster_bench
HAPROXY=$(command -v haproxy || echo /usr/sbin/haproxy)
WORK=$(mktemp -d /tmp/sb-cluster-bench.XXXXXX)
PIDS=()
cleanup() { for p in "${PIDS[@]:-}"; do kill -9 "$p" 2>/dev/null || true; done; psql -q "$PG/test" -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1 || true; }
trap cleanup EXIT

psql -q "$PG/test" -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" -c "CREATE DATABASE $DB"
URL="$PG/$DB"
"$B/switchboard-bench" echo-bot --listen 127.0.0.1:3990 >"$WORK/bot.log" 2>&1 & PIDS+=($!)
grep -v '^builtin = "demo"' config/sample.toml \
  | sed -e 's#"/bots/demo/api/messages"#"http://127.0.0.1:3990/api/messages"#' \
        -e 's|^# public_url = .*|public_url = "http://127.0.0.1:18080"|' >"$WORK/hub.toml"
printf '\n[limits]\ncustomer_activities_per_second = 0\ntoken_requests_per_minute = 0\nsecret_requests_per_minute = 0\n' >>"$WORK/hub.toml"
# The one-node run is reached directly, so its public_url is its own.
sed -e 's|^public_url = .*|public_url = "http://127.0.0.1:18081"|' "$WORK/hub.toml" >"$WORK/one.toml"
export SWITCHBOARD_ADMIN_TOKEN=bench-admin-token NO_COLOR=1

start_node() { # start_node PORT [CONFIG]
  (cd "$WORK" && exec "$OLDPWD/$B/switchboard" serve --config "${2:-hub.toml}" --listen "127.0.0.1:$1" \
      --database-url "$URL" --sip 127.0.0.1:0 >>"node-$1.log" 2>&1) & PIDS+=($!)
  NODE_PID=$!
  for _ in $(seq 1 200); do curl -sf "http://127.0.0.1:$1/readyz" >/dev/null && return; sleep 0.05; done
  echo "node $1 did not start" >&2; exit 1
}
run() { # run HUB
  "$B/switchboard-bench" run --hub "$1" --secret demo-directline-secret-change-me \
    --customers "$CUSTOMERS" --messages "$MESSAGES" --transport ws --max-seconds 300
}

echo "== one node (http://127.0.0.1:18081, directly)"
start_node 18081 one.toml; ONE=$NODE_PID
run http://127.0.0.1:18081
kill "$ONE"; while kill -0 "$ONE" 2>/dev/null; do sleep 0.1; done

echo "== three nodes behind HAProxy (http://127.0.0.1:18080, round robin)"
start_node 18081; N1=$NODE_PID
start_node 18082; start_node 18083
sed -e 's/^    bind \*:8080/    bind 127.0.0.1:18080/' -e '/^frontend stats/,$d' deploy/haproxy.cfg >"$WORK/haproxy.cfg"
"$HAPROXY" -f "$WORK/haproxy.cfg" -db >"$WORK/haproxy.log" 2>&1 & PIDS+=($!)
for _ in $(seq 1 100); do curl -sf http://127.0.0.1:18080/readyz >/dev/null && break; sleep 0.1; done
sleep 2
run http://127.0.0.1:18080

if [ -n "${XNODE_PYTHON:-}" ]; then
  echo "== cross-node events: posted on one node, received on another's stream"
  "$XNODE_PYTHON" compat/bench/cross_node.py http://127.0.0.1:18082 http://127.0.0.1:18083 \
    demo-directline-secret-change-me 500
fi

echo "== the sweep's takeover over ten kills of its leader"
declare -A PID_OF=([18081]=$N1)
for port in 18082 18083; do PID_OF[$port]=$(pgrep -f -- "--listen 127.0.0.1:$port" | head -1); done
for i in $(seq 1 10); do
  # Only the leader's current log says it leads: a killed node's log is set aside.
  leader=$(grep -l 'leading the sweep of timers' "$WORK"/node-1808?.log | sed -E 's/.*node-([0-9]+)\.log/\1/' | head -1)
  before=$(cat "$WORK"/node-*.log | grep -c 'leading the sweep of timers')
  t0=$(date +%s%N)
  kill -9 "${PID_OF[$leader]}"
  while [ "$(cat "$WORK"/node-*.log | grep -c 'leading the sweep of timers')" -le "$before" ]; do sleep 0.01; done
  t1=$(date +%s%N)
  echo "kill $i: leader on $leader killed; lead taken over after $(( (t1 - t0) / 1000000 )) ms"
  # The killed node comes back (a follower now).
  mv "$WORK/node-$leader.log" "$WORK/node-$leader.$i.log"
  start_node "$leader"; PID_OF[$leader]=$NODE_PID
done
