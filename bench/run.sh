#!/usr/bin/env bash
# make bench: prints figures beside references measured in the same run. Nothing is asserted.
#  1. micro-benchmarks (Google Benchmark) with in-run references;
#  2. HTTPS check-in throughput: nginx answering a fixed 200 through wrk (how fast HTTPS on this
#     box goes) beside `rampart-agent simulate` against `rampart serve` with DEVICES devices;
#  3. server memory per enrolled idle device: RSS with SEED devices seeded minus RSS with none.
# Only 127.0.0.1 is used; every load is bounded in time.
set -euo pipefail
BUILD=${1:-build}
DEVICES=${DEVICES:-10000}
INTERVAL=${INTERVAL:-2}
DURATION=${DURATION:-30}
SEED=${SEED:-100000}
WORK=$(mktemp -d /tmp/rampart-bench.XXXXXX)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# Starts rampart serve on DATA with a config; sets SERVER_PID and PORT.
start_rampart() {
  local data=$1 config=$2
  "$BUILD/bin/rampart" serve --data "$data" --listen 127.0.0.1:0 --config "$config" --demo \
      > "$data.out" 2> "$data.log" &
  SERVER_PID=$!
  PIDS+=("$SERVER_PID")
  for _ in $(seq 1 100); do
    PORT=$(grep -o 'listening on https://127.0.0.1:[0-9]*' "$data.out" 2>/dev/null | grep -o '[0-9]*$' || true)
    [ -n "$PORT" ] && return 0
    sleep 0.1
  done
  echo "bench: rampart did not start" >&2; cat "$data.log" >&2; exit 1
}
rss_kib() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }

echo "== 1. micro-benchmarks (items/s; references: /healthz through the same App, SHA-256)"
"$BUILD/bench/core_bench" --benchmark_min_time=0.5 --benchmark_format=console 2>/dev/null | tee "$WORK/micro.txt"
python3 - "$WORK/micro.txt" <<'PY'
import re, sys
rates = {}
for line in open(sys.argv[1]):
    m = re.match(r'(BM_\w+)\s.*items_per_second=([\d.]+)([kMG]?)/s', line)
    if m:
        rates[m.group(1)] = float(m.group(2)) * {'': 1, 'k': 1e3, 'M': 1e6, 'G': 1e9}[m.group(3)]
if 'BM_SignedCheckin' in rates and 'BM_Reference_Healthz' in rates:
    print(f"signed check-in costs {rates['BM_Reference_Healthz'] / rates['BM_SignedCheckin']:.1f}x a /healthz through the App")
if 'BM_VerifyDeviceSignature' in rates and 'BM_Reference_Sha256' in rates:
    print(f"Ed25519 verify costs {rates['BM_Reference_Sha256'] / rates['BM_VerifyDeviceSignature']:.1f}x a SHA-256 of the same message")
PY

echo
echo "== 1c. the keeper: decrypts/s through its socket with the audit log; sealed vs masked listing"
"$BUILD/bench/keeper_bench" --benchmark_min_time=1 --benchmark_format=console 2>/dev/null | tee "$WORK/keeper.txt" || true
python3 - "$WORK/keeper.txt" <<'PY'
import re, sys
rates = {}
for line in open(sys.argv[1]):
    m = re.match(r'(BM_\w+(?:/\w+)*)\s.*items_per_second=([\d.]+)([kMG]?)/s', line)
    if m:
        rates[m.group(1)] = float(m.group(2)) * {'': 1, 'k': 1e3, 'M': 1e6, 'G': 1e9}[m.group(3)]
best = max((v for k, v in rates.items() if k.startswith('BM_KeeperDecrypt')), default=None)
if best:
    print(f"keeper decrypts: best {best:,.0f} records/s (target >= 50,000/s)")
m = rates.get('BM_StaffListMasked/real_time')
for arg, mode in (('1', 'audit fdatasync per request'), ('0', 'audit synced in batches')):
    r = rates.get(f'BM_StaffListRevealed/{arg}/real_time')
    if m and r:
        print(f"a revealed (sealed) listing of 50 costs {m / r:.1f}x a masked one, {mode} (target <= 2x)")
PY

echo
echo "== 1b. offline detection (rampart scan pipeline) on a generated EPMM access log"
"$BUILD/bench/detect_bench" --lines="${SCAN_LINES:-200000}" --benchmark_min_time=0.2 2>/dev/null || true
"$BUILD/bench/alert_latency_bench" --rate="${ALERT_RATE:-10000}" --seconds="${ALERT_SECONDS:-5}" || true
echo
echo "== 1d. rampart scan beside fail2ban-regex and CrowdSec replay (bench/compare_scan.sh)"
LINES="${SCAN_LINES:-1000000}" bash "$(dirname "$0")/compare_scan.sh" "$BUILD" || true

echo
echo "== 1c. audit log appends (fdatasync each / every 64 / none) and tree heads, beside SHA-256"
"$BUILD/bench/audit_bench" --benchmark_min_time=0.2 2>/dev/null || true

echo
echo "== 2. HTTPS throughput on this machine ($(nproc) cores)"
mkdir -p "$WORK/ref"
start_rampart "$WORK/ref" /dev/null
kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true
NGINX_PORT=$(free_port)
mkdir -p "$WORK/nginx/logs"
cat > "$WORK/nginx/nginx.conf" <<CONF
worker_processes auto;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/logs/error.log;
events { worker_connections 4096; }
http {
  access_log off;
  server {
    listen 127.0.0.1:$NGINX_PORT ssl;
    ssl_certificate $WORK/ref/tls/server.pem;
    ssl_certificate_key $WORK/ref/tls/server.key;
    location / { return 200 '{"status":"ok"}'; }
  }
}
CONF
nginx -p "$WORK/nginx" -c "$WORK/nginx/nginx.conf" -g 'daemon off;' &
PIDS+=($!)
sleep 1
echo "-- reference: nginx fixed 200 over HTTPS, wrk 2 threads, 64 keep-alive connections, 10 s"
wrk -t2 -c64 -d10s --latency "https://127.0.0.1:$NGINX_PORT/" | tee "$WORK/wrk.txt"
NGINX_RPS=$(awk '/^Requests\/sec/ {print $2}' "$WORK/wrk.txt")
kill "${PIDS[-1]}" 2>/dev/null || true

cat > "$WORK/bench.yaml" <<CONF
log_level: warn
http:
  max_connections: 20000
  requests_per_second_per_connection: 100000
CONF
mkdir -p "$WORK/sim"
start_rampart "$WORK/sim" "$WORK/bench.yaml"
ENROLL=$(awk '/enrollment token:/ {print $3}' "$WORK/sim.out")
echo "-- rampart: $DEVICES simulated devices, check-in every ${INTERVAL}s for ${DURATION}s"
"$BUILD/bin/rampart-agent" simulate --server "https://127.0.0.1:$PORT" --ca "$WORK/sim/tls/ca.pem" \
    --token "$ENROLL" --devices "$DEVICES" --interval "$INTERVAL" --duration "$DURATION" --json \
    > "$WORK/sim.json"
python3 - "$WORK/sim.json" "$NGINX_RPS" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
nginx = float(sys.argv[2])
def find(d, *names):
    for n in names:
        if n in d: return d[n]
    return None
rate = find(s, "checkins_per_second", "checkins_per_sec")
lat = s.get("checkin_latency_ms", {})
print(json.dumps(s, indent=1))
print(f"nginx fixed-200 rate: {nginx:,.0f} req/s")
if rate:
    print(f"rampart signed check-ins: {rate:,.0f}/s = {100*rate/nginx:.1f}% of nginx (target >= 30%)")
if lat:
    print(f"check-in latency p50 {lat.get('p50', 0):.1f} ms, p99 {lat.get('p99', 0):.1f} ms (target p99 < 25 ms)")
PY
kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true

echo
echo "== 3. server memory per enrolled idle device"
mkdir -p "$WORK/empty" "$WORK/full"
start_rampart "$WORK/empty" "$WORK/bench.yaml"
curl -s --cacert "$WORK/empty/tls/ca.pem" "https://127.0.0.1:$PORT/healthz" > /dev/null
sleep 1
RSS_EMPTY=$(rss_kib "$SERVER_PID")
kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true
start_rampart "$WORK/full" "$WORK/bench.yaml"
kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true
"$BUILD/bench/seed_devices" "$WORK/full" "$SEED"
start_rampart "$WORK/full" "$WORK/bench.yaml"
TOKEN=$(awk '/superadmin token:/ {print $3}' "$WORK/full.out")
# Touch the device table the way an admin would, so that caches are warm.
curl -s --cacert "$WORK/full/tls/ca.pem" -H "Authorization: Bearer $TOKEN" \
    "https://127.0.0.1:$PORT/api/v1/compliance" > /dev/null
curl -s --cacert "$WORK/full/tls/ca.pem" -H "Authorization: Bearer $TOKEN" \
    "https://127.0.0.1:$PORT/api/v1/devices?limit=500" > /dev/null
sleep 1
RSS_FULL=$(rss_kib "$SERVER_PID")
python3 - "$RSS_EMPTY" "$RSS_FULL" "$SEED" <<'PY'
import sys
empty, full, n = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
print(f"RSS with 0 devices: {empty} KiB; with {n:,} enrolled idle devices: {full} KiB")
print(f"memory per enrolled idle device: {(full - empty) * 1024 / n:.1f} bytes (target <= 4096)")
PY
