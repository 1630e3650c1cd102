#!/usr/bin/env bash
# Fulcrum vs HAProxy vs nginx on this machine, with equivalent configurations.
#
#   bench/run.sh                      # 3 interleaved rounds of 10 s per test
#   ROUNDS=5 DUR=20 bench/run.sh      # longer
#
# Fulcrum is `target/release/fulcrum -f haproxy.cfg` (or FULCRUM_BIN).
# Each load balancer runs one worker thread pinned to CPU $LB_CPU (default 0);
# wrk, the backends and the helper clients share CPU $CLIENT_CPU (default 1).
# Installs only (Debian, as root, when missing): haproxy nginx-light
# libnginx-mod-stream wrk. Prints medians and each figure's ratio to HAProxy's.
set -euo pipefail

ROUNDS=${ROUNDS:-3}
DUR=${DUR:-10}
CONNS=${CONNS:-64}
BULK_MB=${BULK_MB:-2048}
IDLE_N=${IDLE_N:-1000}
# Paced keep-alive test: each of CONNS connections waits PACE_MS between requests, so
# the proxy is well below saturation and CPU per request is not just 1/throughput.
PACE_MS=${PACE_MS:-4}
LB_CPU=${LB_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}
LBS=${LBS:-"fulcrum haproxy nginx"}
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(dirname "$HERE")
TOOLS="python3 $HERE/tools.py"

need=()
command -v haproxy >/dev/null || need+=(haproxy)
command -v nginx >/dev/null || need+=(nginx-light)
command -v wrk >/dev/null || need+=(wrk)
[ -e /usr/lib/nginx/modules/ngx_stream_module.so ] || need+=(libnginx-mod-stream)
if [ ${#need[@]} -gt 0 ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        apt-get install -y -qq "${need[@]}"
    else
        echo "missing: ${need[*]} (Debian packages); install them and rerun" >&2
        exit 1
    fi
fi

if [ -z "${FULCRUM_BIN:-}" ]; then
    # The real binary when it builds; else the engine alone (`examples/serve`).
    export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
    if (cd "$ROOT" && cargo build -q --release -p fulcrum); then
        FULCRUM_BIN=$CARGO_TARGET_DIR/release/fulcrum
    else
        (cd "$ROOT" && cargo build -q --release -p fulcrum-engine --example serve)
        FULCRUM_BIN=$CARGO_TARGET_DIR/release/examples/serve
    fi
fi

WORK=$(mktemp -d /tmp/fulcrum-bench.XXXXXX)
PIDS_BG=()
cleanup() {
    for p in "${PIDS_BG[@]}"; do kill "$p" 2>/dev/null || true; done
    [ -n "${LB_PIDS:-}" ] && kill $LB_PIDS 2>/dev/null || true
    wait 2>/dev/null || true
}
trap cleanup EXIT
ulimit -n 65536 2>/dev/null || true

read -r B1 B2 SINK LB_HTTP LB_TCP LB_SPLICE < <(python3 -c '
import socket
ss=[socket.socket() for _ in range(6)]
for s in ss: s.bind(("127.0.0.1",0))
print(*[s.getsockname()[1] for s in ss])')

# Two small HTTP backends (one nginx, two ports) and a TCP sink.
cat > "$WORK/origin.conf" <<CONF
worker_processes 1;
pid $WORK/origin.pid;
error_log $WORK/origin.err crit;
events { worker_connections 8000; }
http {
    access_log off;
    keepalive_requests 100000000;
    client_body_temp_path $WORK/tmp; proxy_temp_path $WORK/tmp;
    server { listen 127.0.0.1:$B1; location / { return 200 "hello from b1\n"; } }
    server { listen 127.0.0.1:$B2; location / { return 200 "hello from b2\n"; } }
}
CONF
mkdir -p "$WORK/tmp"
taskset -c "$CLIENT_CPU" nginx -c "$WORK/origin.conf" -g 'daemon off;' &
PIDS_BG+=($!)
taskset -c "$CLIENT_CPU" $TOOLS sink "$SINK" &
PIDS_BG+=($!)

# HAProxy's configuration, served as it is by both HAProxy and Fulcrum.
cat > "$WORK/haproxy.cfg" <<CONF
global
    nbthread 1
    # 2 fds per connection: stays under a 20000 open-files hard limit
    maxconn 6000
defaults
    mode http
    timeout connect 5s
    timeout client 60s
    timeout server 60s
    timeout http-keep-alive 60s
frontend fe_http
    bind 127.0.0.1:$LB_HTTP
    default_backend be_http
backend be_http
    balance roundrobin
    server b1 127.0.0.1:$B1
    server b2 127.0.0.1:$B2
listen tcp_bulk
    mode tcp
    bind 127.0.0.1:$LB_TCP
    server sink 127.0.0.1:$SINK
listen tcp_splice
    mode tcp
    option splice-auto
    bind 127.0.0.1:$LB_SPLICE
    server sink 127.0.0.1:$SINK
CONF

cat > "$WORK/paced.lua" <<LUA
function delay() return $PACE_MS end
LUA

cat > "$WORK/nginx-lb.conf" <<CONF
load_module /usr/lib/nginx/modules/ngx_stream_module.so;
worker_processes 1;
pid $WORK/nginx-lb.pid;
error_log $WORK/nginx-lb.err crit;
events { worker_connections 8000; }
http {
    access_log off;
    keepalive_requests 100000000;
    keepalive_timeout 60s;
    client_body_temp_path $WORK/tmp; proxy_temp_path $WORK/tmp;
    upstream be_http { server 127.0.0.1:$B1; server 127.0.0.1:$B2; keepalive 128; }
    server {
        listen 127.0.0.1:$LB_HTTP;
        location / { proxy_pass http://be_http; proxy_http_version 1.1; proxy_set_header Connection ""; }
    }
}
stream {
    server { listen 127.0.0.1:$LB_TCP; proxy_pass 127.0.0.1:$SINK; }
    # nginx's stream proxy has no splice: the same proxy, for completeness.
    server { listen 127.0.0.1:$LB_SPLICE; proxy_pass 127.0.0.1:$SINK; }
}
CONF

start_lb() {
    case $1 in
        fulcrum) taskset -c "$LB_CPU" "$FULCRUM_BIN" -f "$WORK/haproxy.cfg" 2>"$WORK/fulcrum.err" & ;;
        haproxy) taskset -c "$LB_CPU" haproxy -db -f "$WORK/haproxy.cfg" 2>"$WORK/haproxy.err" & ;;
        nginx) taskset -c "$LB_CPU" nginx -c "$WORK/nginx-lb.conf" -g 'daemon off;' & ;;
    esac
    local main=$!
    for _ in $(seq 100); do
        curl -s -o /dev/null "http://127.0.0.1:$LB_HTTP/" && break
        sleep 0.1
    done
    LB_PIDS="$main $( (pgrep -P "$main" || true) | tr "\n" " ")"
}

stop_lb() {
    kill $LB_PIDS 2>/dev/null || true
    for p in $LB_PIDS; do wait "$p" 2>/dev/null || true; done
    LB_PIDS=
    sleep 0.5
}

record() { echo "$1 $2 $3" >> "$WORK/results"; echo "  $1 $2 $3"; }

measure() {
    local lb=$1
    sleep 0.5
    record "$lb" rss_idle_kB "$($TOOLS rss $LB_PIDS)"
    taskset -c "$CLIENT_CPU" wrk -t1 -c"$CONNS" -d2s "http://127.0.0.1:$LB_HTTP/" >/dev/null

    local c0 c1 out
    c0=$($TOOLS cpu $LB_PIDS)
    taskset -c "$CLIENT_CPU" wrk -t1 -c"$CONNS" -d"${DUR}s" --latency "http://127.0.0.1:$LB_HTTP/" > "$WORK/wrk.out"
    c1=$($TOOLS cpu $LB_PIDS)
    read -r req rps p50 p99 < <($TOOLS wrk "$WORK/wrk.out")
    record "$lb" ka_req_per_s "$rps"
    record "$lb" ka_p50_ms "$p50"
    record "$lb" ka_p99_ms "$p99"
    record "$lb" ka_cpu_s_per_100k "$(python3 -c "print(($c1-$c0)/max($req,1)*1e5)")"

    c0=$($TOOLS cpu $LB_PIDS)
    taskset -c "$CLIENT_CPU" wrk -t1 -c"$CONNS" -d"${DUR}s" -s "$WORK/paced.lua" "http://127.0.0.1:$LB_HTTP/" > "$WORK/wrk.out"
    c1=$($TOOLS cpu $LB_PIDS)
    read -r req rps p50 p99 < <($TOOLS wrk "$WORK/wrk.out")
    record "$lb" paced_req_per_s "$rps"
    record "$lb" paced_cpu_s_per_100k "$(python3 -c "print(($c1-$c0)/max($req,1)*1e5)")"

    c0=$($TOOLS cpu $LB_PIDS)
    taskset -c "$CLIENT_CPU" wrk -t1 -c"$CONNS" -d"${DUR}s" -H "Connection: close" "http://127.0.0.1:$LB_HTTP/" > "$WORK/wrk.out"
    c1=$($TOOLS cpu $LB_PIDS)
    read -r req rps p50 p99 < <($TOOLS wrk "$WORK/wrk.out")
    record "$lb" cpr_req_per_s "$rps"
    record "$lb" cpr_cpu_s_per_100k "$(python3 -c "print(($c1-$c0)/max($req,1)*1e5)")"

    c0=$($TOOLS cpu $LB_PIDS)
    read -r bytes secs < <(taskset -c "$CLIENT_CPU" $TOOLS bulk "$LB_TCP" $((BULK_MB << 20)))
    c1=$($TOOLS cpu $LB_PIDS)
    record "$lb" tcp_MB_per_s "$(python3 -c "print($bytes/1e6/$secs)")"
    record "$lb" tcp_cpu_s_per_GB "$(python3 -c "print(($c1-$c0)/($bytes/1e9))")"

    c0=$($TOOLS cpu $LB_PIDS)
    read -r bytes secs < <(taskset -c "$CLIENT_CPU" $TOOLS bulk "$LB_SPLICE" $((BULK_MB << 20)))
    c1=$($TOOLS cpu $LB_PIDS)
    record "$lb" splice_MB_per_s "$(python3 -c "print($bytes/1e6/$secs)")"
    record "$lb" splice_cpu_s_per_GB "$(python3 -c "print(($c1-$c0)/($bytes/1e9))")"

    sleep 1
    local r0 r1
    r0=$($TOOLS rss $LB_PIDS)
    rm -f "$WORK/ready"
    taskset -c "$CLIENT_CPU" $TOOLS idle "$LB_HTTP" "$IDLE_N" "$WORK/ready" &
    local idle_pid=$!
    for _ in $(seq 300); do [ -e "$WORK/ready" ] && break; sleep 0.1; done
    # Let each proxy settle after the burst of 1000 first requests.
    sleep 1.5
    r1=$($TOOLS rss $LB_PIDS)
    kill "$idle_pid"; wait "$idle_pid" 2>/dev/null || true
    record "$lb" rss_kB_per_1000_idle "$(python3 -c "print(($r1-$r0)*1000/$IDLE_N)")"
}

echo "# $(date -u +%FT%TZ) $(uname -srm), $(nproc) CPUs: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo "# $(haproxy -v | head -1); $(nginx -v 2>&1); $(wrk -v 2>&1 | head -1)"
echo "# load average: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# rounds=$ROUNDS dur=${DUR}s conns=$CONNS pace=${PACE_MS}ms bulk=${BULK_MB}MB idle=$IDLE_N lb_cpu=$LB_CPU client_cpu=$CLIENT_CPU"
read -r -a order <<< "$LBS"
for round in $(seq "$ROUNDS"); do
    # Interleave: each round starts with a different load balancer.
    for i in $(seq 0 $((${#order[@]} - 1))); do
        lb=${order[$(((i + round - 1) % ${#order[@]}))]}
        echo "round $round: $lb"
        start_lb "$lb"
        measure "$lb"
        stop_lb
    done
done
echo
$TOOLS report "$WORK/results"
cp "$WORK/results" "${RESULTS_OUT:-/tmp/fulcrum-bench-results.txt}"
