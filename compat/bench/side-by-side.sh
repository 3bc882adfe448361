#!/usr/bin/env bash
# Switchboard vs offline-directline, same run, same client, same botbuilder echo bot
# (docs/benchmarks.md, "Switchboard vs offline-directline").
#
# Starts on loopback ports: a botbuilder echo bot (compat/bench/echo-bot.js) for each side,
# offline-directline in front of one, a Switchboard hub (SQLite, durable) in front of the other,
# and, for the bounds, the load tool's bare relay in front of a third botbuilder bot and a second
# hub in front of the load tool's Rust echo bot. Then it runs `switchboard-bench run` against each
# in turn, prints one table, and stops every process it started.
#
# Needs: `cargo build --release -p switchboard -p switchboard-bench` and `npm ci` in compat/.
# Usage: compat/bench/side-by-side.sh            (C=50 M=100 POLL_MS=50 MAX_SECONDS=60 by default)
#        C=50 M=40 compat/bench/side-by-side.sh
# Each run's JSON report is kept in $OUT (default: a fresh /tmp/sb-side-by-side.XXXXXX).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BIN=${BIN:-$ROOT/target/release}
C=${C:-50}
M=${M:-100}
POLL_MS=${POLL_MS:-50}
MAX_SECONDS=${MAX_SECONDS:-60}
OUT=${OUT:-$(mktemp -d /tmp/sb-side-by-side.XXXXXX)}
mkdir -p "$OUT"

# Ports, all on 127.0.0.1.
BOT_HUB=3979 BOT_ODL=3980 BOT_RELAY=3982 RUST_BOT=3983
HUB=18080 HUB_RUST=18081 ODL=3000 RELAY=8090
SECRET=demo-directline-secret-change-me

for tool in "$BIN/switchboard" "$BIN/switchboard-bench"; do
    [[ -x $tool ]] || { echo "missing $tool: cargo build --release -p switchboard -p switchboard-bench" >&2; exit 2; }
done
[[ -d $ROOT/compat/node_modules/offline-directline ]] || { echo "run npm ci in compat/ first" >&2; exit 2; }

PIDS=()
declare -A PID_OF
stop_all() {
    local pid
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do
        # Give each 5 s to stop on SIGTERM, then SIGKILL.
        for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
}
trap stop_all EXIT
trap 'exit 130' INT TERM

# start NAME COMMAND...: runs it in the background, logging to $OUT/NAME.log.
start() {
    local name=$1; shift
    "$@" >"$OUT/$name.log" 2>&1 &
    PIDS+=($!)
    PID_OF[$name]=$!
}

# cpu_ticks NAME: the CPU time (user + system, in 1/100 s) the process NAME has used so far.
cpu_ticks() {
    awk '{ print $14 + $15 }' "/proc/${PID_OF[$1]}/stat"
}

# wait_for URL: until something answers HTTP on it (any status), at most 30 s.
wait_for() {
    for _ in $(seq 300); do
        if curl -s -o /dev/null --max-time 1 "$1"; then return 0; fi
        sleep 0.1
    done
    echo "nothing answers on $1; logs in $OUT" >&2
    exit 1
}

cd "$ROOT/compat"
start bot-hub env PORT=$BOT_HUB node bench/echo-bot.js
start bot-odl env PORT=$BOT_ODL node bench/echo-bot.js
start bot-relay env PORT=$BOT_RELAY node bench/echo-bot.js
start rust-bot "$BIN/switchboard-bench" echo-bot --listen 127.0.0.1:$RUST_BOT
wait_for http://127.0.0.1:$BOT_HUB/api/messages
wait_for http://127.0.0.1:$BOT_ODL/api/messages
wait_for http://127.0.0.1:$BOT_RELAY/api/messages
# offline-directline ends on the first request it cannot forward, so only once its bot is up.
start offline-directline node bench/offline-directline.js $ODL http://127.0.0.1:$BOT_ODL/api/messages
start relay "$BIN/switchboard-bench" relay --listen 127.0.0.1:$RELAY --bot http://127.0.0.1:$BOT_RELAY/api/messages

cd "$ROOT"
# The sample configuration with its bot pointed at the given port, the built-in demo bot off,
# and the per-conversation rate limit off (a load customer sends faster than a person), where
# this hub has one (`[limits]`).
hub_config() {
    sed -e "s#http://127.0.0.1:3978/api/messages#http://127.0.0.1:$1/api/messages#" \
        -e '/^builtin = "demo"/d' config/sample.toml >"$2"
    cp "$2" "$2.no-limits"
    printf '\n[limits]\ncustomer_activities_per_second = 0\ntoken_requests_per_minute = 0\nsecret_requests_per_minute = 0\n' >>"$2"
    "$BIN/switchboard" check-config "$2" >/dev/null 2>&1 || mv "$2.no-limits" "$2"
}
hub_config $BOT_HUB "$OUT/hub.toml"
hub_config $RUST_BOT "$OUT/hub-rust.toml"
start hub "$BIN/switchboard" serve --config "$OUT/hub.toml" --listen 127.0.0.1:$HUB \
    --database-url "sqlite://$OUT/hub.db"
start hub-rust "$BIN/switchboard" serve --config "$OUT/hub-rust.toml" --listen 127.0.0.1:$HUB_RUST \
    --database-url "sqlite://$OUT/hub-rust.db"
wait_for http://127.0.0.1:$ODL/directline
wait_for http://127.0.0.1:$RELAY/
wait_for http://127.0.0.1:$HUB/readyz
wait_for http://127.0.0.1:$HUB_RUST/readyz

# measure NAME CHANNEL BOT ARGS...: one bounded run, its JSON report kept as $OUT/NAME.json
# and, in $OUT/NAME.cpu, the CPU the channel, its bot and the client used during it, each as a
# percentage of one core over the run's wall time (setup included).
ROWS=()
measure() {
    local name=$1 channel=$2 bot=$3; shift 3
    echo "measuring: $name" >&2
    local channel0 bot0 start end
    channel0=$(cpu_ticks "$channel") bot0=$(cpu_ticks "$bot") start=$(date +%s%N)
    # Exit status 1 means "not every reply exactly once, or errors": recorded, not fatal.
    /usr/bin/time -f '%U %S' -o "$OUT/$name.client-cpu" \
        "$BIN/switchboard-bench" run --customers "$C" --messages "$M" --max-seconds "$MAX_SECONDS" \
        --json "$@" >"$OUT/$name.json" || true
    end=$(date +%s%N)
    awk -v wall_ns=$((end - start)) -v ch=$(($(cpu_ticks "$channel") - channel0)) \
        -v bot=$(($(cpu_ticks "$bot") - bot0)) '
        { client = ($1 + $2) * 100 }
        END { w = wall_ns / 1e9; printf "%.0f %.0f %.0f\n", ch / w, bot / w, client / w }' \
        "$OUT/$name.client-cpu" >"$OUT/$name.cpu"
    ROWS+=("$name")
}
measure offline-directline.polling offline-directline bot-odl --hub http://127.0.0.1:$ODL \
    --directline-url http://127.0.0.1:$ODL/directline --skip-token --secret unused \
    --transport polling --poll-interval-ms "$POLL_MS"
measure switchboard.polling hub bot-hub --hub http://127.0.0.1:$HUB --secret $SECRET \
    --transport polling --poll-interval-ms "$POLL_MS"
measure switchboard.ws hub bot-hub --hub http://127.0.0.1:$HUB --secret $SECRET --transport ws
measure relay.ws relay bot-relay --hub http://127.0.0.1:$RELAY --secret any --transport ws
measure switchboard-rust-bot.ws hub-rust rust-bot --hub http://127.0.0.1:$HUB_RUST --secret $SECRET --transport ws

echo
echo "C=$C M=$M poll=${POLL_MS}ms; reports in $OUT"
node - "$OUT" "${ROWS[@]}" <<'EOF'
const fs = require('fs');
const [dir, ...rows] = process.argv.slice(2);
const label = {
    'offline-directline.polling': 'offline-directline + botbuilder bot',
    'switchboard.polling': 'Switchboard (SQLite) + botbuilder bot',
    'switchboard.ws': 'Switchboard (SQLite) + botbuilder bot',
    'relay.ws': 'bare relay + botbuilder bot',
    'switchboard-rust-bot.ws': 'Switchboard (SQLite) + Rust echo bot',
};
const line = (cells) => console.log('| ' + cells.join(' | ') + ' |');
line(['against', 'transport', 'round trips/s', 'p50 ms', 'p99 ms', 'errors', 'replies', 'CPU % channel / bot / client']);
line(['---', '---', '---:', '---:', '---:', '---', '---', '---']);
let base;
for (const row of rows) {
    let r;
    try {
        r = JSON.parse(fs.readFileSync(`${dir}/${row}.json`, 'utf8'));
    } catch (e) {
        line([label[row], row.split('.')[1], 'no report', '', '', '', '', '']);
        continue;
    }
    const transport = r.poll_interval_ms ? `polling ${r.poll_interval_ms} ms` : r.transport;
    const errors = Object.entries(r.errors).map(([k, n]) => `${k} ${n}`).join(', ') || 'none';
    const proof = r.verified
        ? `${r.replied}/${r.planned}, exactly once, in order`
        : `${r.replied}/${r.planned}: ${r.duplicates} dup, ${r.missing} missing, ${r.out_of_order} out of order, ${r.unexpected} unexpected`;
    const latency = r.latency_ms || {};
    if (row === 'offline-directline.polling') base = r.throughput_per_s;
    const ratio = base && row !== 'offline-directline.polling' ? ` (${(r.throughput_per_s / base).toFixed(1)}×)` : '';
    line([
        label[row], transport, r.throughput_per_s.toFixed(0) + ratio,
        latency.p50 === undefined ? '' : latency.p50.toFixed(1),
        latency.p99 === undefined ? '' : latency.p99.toFixed(1),
        errors + (r.stopped_by_deadline ? ', stopped at max-seconds' : ''), proof,
        fs.readFileSync(`${dir}/${row}.cpu`, 'utf8').trim().split(' ').join(' / '),
    ]);
}
EOF
