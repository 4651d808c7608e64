#!/usr/bin/env bash
# Offline log scanning, rampart beside the tools an institution would otherwise run, on one
# generated EPMM access log (detect_bench's generator: benign MDM traffic, 1 line in 200 an
# exploit request from 203.0.113.0/24, benign traffic from 10.0.0.0/8):
#   - rampart scan with the bundled rules, SigmaHQ's web/proxy rules and 100,000 IoCs;
#   - fail2ban-regex with bench/fail2ban-epmm.conf (the EPMM exploit paths as regexes);
#   - CrowdSec's replay mode (crowdsec -dsn file://... -type nginx -no-capi) on a private copy of
#     its configuration, on a prefix of the log (it replays ~480 lines/s on this machine kind).
# Prints one table: tool, lines, seconds, lines/s, attack lines flagged of N, benign lines
# flagged, speed ratio vs rampart. Nothing is asserted. A tool that cannot run prints why.
#
#   bench/compare_scan.sh [BUILD_DIR]
#   env: LINES (1000000), CROWDSEC_LINES (20000), CROWDSEC_TIMEOUT (s, 900), SIGMA_DIR,
#        VARIED=1 for detect_bench's --varied corpus (benign values that rarely repeat),
#        INSTALL=0 to never apt-get install a missing tool.
set -uo pipefail
BUILD=${1:-build}
LINES=${LINES:-1000000}
CROWDSEC_LINES=${CROWDSEC_LINES:-20000}
CROWDSEC_TIMEOUT=${CROWDSEC_TIMEOUT:-900}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SIGMA_DIR=${SIGMA_DIR:-$ROOT/../shared/sigma}
WORK=$(mktemp -d /tmp/rampart-compare.XXXXXX)
CS_PID=
cleanup() {
  if [ -n "$CS_PID" ]; then kill "$CS_PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT
[ -n "${KEEP_WORK:-}" ] && trap - EXIT

now() { date +%s.%N; }
# Installs a Debian package when its command is missing, only when this script runs.
ensure() {
  local cmd=$1 pkg=$2
  command -v "$cmd" > /dev/null && return 0
  [ "${INSTALL:-1}" = 1 ] || return 1
  echo "compare: installing $pkg" >&2
  { apt-get install -y -q "$pkg" || { apt-get update -q && apt-get install -y -q "$pkg"; }; } \
      > "$WORK/apt-$pkg.log" 2>&1
  command -v "$cmd" > /dev/null
}

# score FILE_OF_FLAGGED_IPS_OR_LINES LOG MODE: prints "attack_flagged benign_flagged".
# MODE lines: one 1-based line number per flagged line; MODE ips: one source address per
# flagged line (fail2ban prints one per failure).
score() {
  python3 - "$@" <<'PY'
import sys
flagged, log, mode = sys.argv[1], sys.argv[2], sys.argv[3]
attack = benign = 0
if mode == "lines":
    want = set()
    for l in open(flagged):
        l = l.strip()
        if l.isdigit():
            want.add(int(l))
    with open(log, "rb") as f:
        for i, line in enumerate(f, 1):
            if i in want:
                if line.split(b" ", 2)[1].startswith(b"203.0.113."):
                    attack += 1
                else:
                    benign += 1
else:
    for l in open(flagged):
        ip = l.strip().strip("[]'\" ,")
        if not ip:
            continue
        if ip.startswith("203.0.113."):
            attack += 1
        else:
            benign += 1
print(attack, benign)
PY
}

ROWS=()
row() { ROWS+=("$*"); }

echo "== generating $LINES lines"
VARIED_FLAG=()
[ "${VARIED:-0}" = 1 ] && VARIED_FLAG=(--varied)
"$BUILD/bench/detect_bench" --lines="$LINES" "${VARIED_FLAG[@]}" --write="$WORK/access" || exit 1
LOG=$WORK/access.log
ATTACKS=$(grep -c '^[^ ]* 203\.0\.113\.' "$LOG")
echo "$ATTACKS attack lines, $((LINES - ATTACKS)) benign"

# rampart_scan LABEL THREADS: one rampart scan run, scored, as a table row. One matching thread
# is the one-core figure the target is set for; one per core is what an analyst gets.
rampart_scan() {
  local label=$1 threads=$2
  echo "== rampart scan, $threads matching thread(s)"
  t0=$(now)
  "$BUILD/bin/rampart" scan --threads "$threads" "${RULES[@]}" --iocs "$WORK/access.iocs.csv" \
      "$LOG" > "$WORK/rampart.jsonl" 2> "$WORK/rampart.err"
  rc=$?
  t1=$(now)
  tail -n 12 "$WORK/rampart.err"
  if [ "$rc" = 0 ]; then
    python3 -c 'import json,sys
for l in open(sys.argv[1]): print(json.loads(l)["line"])' "$WORK/rampart.jsonl" \
        | sort -un > "$WORK/rampart.lines"
    read -r a b < <(score "$WORK/rampart.lines" "$LOG" lines)
    # The scan's own time (reading, parsing, matching, printing); loading the rules and IoCs
    # is a one-off cost, given in the note with the CPU figure (all threads).
    secs=$(sed -n 's/^rampart scan: [0-9]* lines in \([0-9.e+-]*\) s .*/\1/p' "$WORK/rampart.err")
    rules=$(sed -n 's/^rampart scan: \([0-9]*\) rules loaded.*/\1/p' "$WORK/rampart.err")
    cpu=$(sed -n 's/^rampart scan: .*(\([0-9]*\) lines per CPU second)/\1/p' "$WORK/rampart.err")
    row "$label" "$LINES" "$secs" "$a" "$b" "$rules rules, 100,000 IoCs; $cpu lines per CPU second; whole run with loading $(printf '%.2f' "$(echo "$t1 - $t0" | bc)") s"
  else
    row "$label" "$LINES" - - - "failed (exit $rc)"
  fi
}
RULES=(--rules "$ROOT/rules/sigma")
if [ -d "$SIGMA_DIR" ]; then RULES+=(--rules "$SIGMA_DIR"); else echo "no SigmaHQ rules at $SIGMA_DIR"; fi
rampart_scan rampart 1
CORES=$(nproc)
[ "$CORES" -gt 1 ] && rampart_scan "rampart-${CORES}t" "$CORES"

echo "== fail2ban-regex"
if ensure fail2ban-regex fail2ban; then
  t0=$(now)
  fail2ban-regex -o ip "$LOG" "$ROOT/bench/fail2ban-epmm.conf" > "$WORK/f2b.ips" 2> "$WORK/f2b.err"
  rc=$?
  t1=$(now)
  if [ "$rc" = 0 ]; then
    read -r a b < <(score "$WORK/f2b.ips" "$LOG" ips)
    row fail2ban-regex "$LINES" "$(echo "$t1 - $t0" | bc)" "$a" "$b" "bench/fail2ban-epmm.conf, $(grep -c . "$ROOT/bench/fail2ban-epmm.conf") config lines"
  else
    row fail2ban-regex "$LINES" - - - "could not run: $(tail -n 1 "$WORK/f2b.err")"
  fi
else
  row fail2ban-regex - - - - "not installed"
fi

echo "== crowdsec replay on the first $CROWDSEC_LINES lines"
if ensure crowdsec crowdsec && command -v cscli > /dev/null; then
  CS=$WORK/crowdsec
  mkdir -p "$CS/etc" "$CS/data" "$CS/hub"
  cp -r /etc/crowdsec/. "$CS/etc/"
  cp -r /var/lib/crowdsec/data/. "$CS/data/" 2>/dev/null || true
  cp -r /var/lib/crowdsec/hub/. "$CS/hub/" 2>/dev/null || true
  # Debian's offline hub, when the package set-up did not populate the live one.
  [ -f "$CS/hub/.index.json" ] || cp -r /usr/share/crowdsec/hub/. "$CS/hub/" 2>/dev/null || true
  # The copied database holds the machine that local_api_credentials.yaml logs in as.
  : > "$CS/etc/acquis.yaml"  # only the -dsn file is read
  rm -rf "$CS/etc/scenarios" "$CS/etc/parsers" "$CS/etc/postoverflows" "$CS/etc/collections"
  rm -rf "$CS/etc/acquis.d"
  PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  sed -i -e "s#/etc/crowdsec#$CS/etc#g" -e "s#/var/lib/crowdsec/data#$CS/data#g" \
      -e "s#/var/lib/crowdsec/hub#$CS/hub#g" -e "s#127.0.0.1:8080#127.0.0.1:$PORT#g" \
      -e "/^prometheus:/,/^[a-z]/ s#enabled: true#enabled: false#" \
      "$CS/etc/config.yaml" "$CS/etc/local_api_credentials.yaml"
  if [ -z "$(ls -A "$CS/etc/scenarios" 2>/dev/null)" ]; then
    # The three collections Debian enables by default (README.Debian), from the offline hub,
    # enabled the way its postinst does (symlinks below the config directory): cscli would ask
    # the online hub first, which this machine cannot reach.
    python3 - "$CS/hub" "$CS/etc" crowdsecurity/linux crowdsecurity/apache2 crowdsecurity/nginx \
        > "$WORK/cscli-install.log" 2>&1 <<'PY' || true
import json, os, sys
hub, etc, wanted = sys.argv[1], sys.argv[2], sys.argv[3:]
index = json.load(open(os.path.join(hub, ".index.json")))
seen = set()
def enable(kind, name):
    if (kind, name) in seen or name not in index.get(kind, {}):
        return
    seen.add((kind, name))
    item = index[kind][name]
    path = item["path"]
    dest = os.path.join(etc, kind, item["stage"]) if "stage" in item else os.path.join(etc, kind)
    os.makedirs(dest, exist_ok=True)
    link = os.path.join(dest, os.path.basename(path))
    if not os.path.exists(link):
        os.symlink(os.path.join(hub, path), link)
    for sub in ("parsers", "scenarios", "postoverflows", "collections"):
        for n in item.get(sub, []) or []:
            enable(sub, n)
for c in wanted:
    enable("collections", c)
print(len(seen), "hub items enabled")
PY
  fi
  # Data files the scenarios read ship with the package; the GeoIP databases do not (the hub
  # downloads them), so the GeoIP enricher is left out.
  cp -n /usr/share/crowdsec/data/* "$CS/data/" 2>/dev/null || true
  [ -f "$CS/data/GeoLite2-City.mmdb" ] || find "$CS/etc/parsers" -name 'geoip-enrich.yaml' -delete
  # CrowdSec reads nginx/Apache combined lines: the EPMM vhost:port prefix is dropped for it.
  head -n "$CROWDSEC_LINES" "$LOG" | cut -d' ' -f2- > "$WORK/access-combined.log"
  CS_ATTACKS=$(grep -c '^203\.0\.113\.' "$WORK/access-combined.log")
  if [ ! -d "$CS/etc/scenarios" ] || [ -z "$(ls -A "$CS/etc/scenarios" 2>/dev/null)" ]; then
    row crowdsec "$CROWDSEC_LINES" - - - "not configured: no scenarios could be enabled ($(tail -n 1 "$WORK/cscli-install.log" 2>/dev/null | cut -c1-80))"
  else
    # With its local API on, crowdsec keeps serving after the replay: time from its "Starting
    # processing data" to "Bucket routine exiting" (log polled every 0.1 s), read the alerts
    # through the API, then stop it.
    crowdsec -c "$CS/etc/config.yaml" -dsn "file://$WORK/access-combined.log" -type nginx \
        -no-capi > "$WORK/cs.out" 2> "$WORK/cs.err" &
    CS_PID=$!
    t0= t1= deadline=$(( $(date +%s) + CROWDSEC_TIMEOUT ))
    while kill -0 "$CS_PID" 2> /dev/null && [ "$(date +%s)" -lt "$deadline" ]; do
      [ -z "$t0" ] && grep -q 'Starting processing data' "$WORK/cs.err" && t0=$(now)
      if grep -q 'Bucket routine exiting' "$WORK/cs.err"; then t1=$(now); break; fi
      sleep 0.1
    done
    if [ -n "$t0" ] && [ -n "$t1" ]; then rc=0; elif kill -0 "$CS_PID" 2> /dev/null; then rc=124; else rc=1; fi
    if [ "$rc" = 0 ]; then
      cscli -c "$CS/etc/config.yaml" alerts list -l 0 -o raw 2> /dev/null \
          | awk -F, 'NR > 1 {print $3}' | sed 's/^Ip://' > "$WORK/cs.ips"
      # Alerts name addresses, not lines: every line of an alerted address counts as flagged.
      python3 - "$WORK/cs.ips" "$WORK/access-combined.log" > "$WORK/cs.score" <<'PY'
import sys
ips = {l.strip() for l in open(sys.argv[1]) if l.strip()}
a = b = 0
for line in open(sys.argv[2], "rb"):
    ip = line.split(b" ", 1)[0].decode()
    if ip in ips:
        if ip.startswith("203.0.113."):
            a += 1
        else:
            b += 1
print(a, b)
PY
      read -r a b < "$WORK/cs.score"
      row crowdsec "$CROWDSEC_LINES" "$(echo "$t1 - $t0" | bc)" "$a" "$b" "first $CROWDSEC_LINES lines ($CS_ATTACKS attack lines there), lines of alerted addresses"
      kill "$CS_PID" 2> /dev/null; wait "$CS_PID" 2> /dev/null; CS_PID=
    elif [ "$rc" = 124 ]; then
      row crowdsec "$CROWDSEC_LINES" - - - "did not finish within ${CROWDSEC_TIMEOUT}s"
    else
      row crowdsec "$CROWDSEC_LINES" - - - "could not run: $({ grep -m1 -i 'level=fatal' "$WORK/cs.err" || tail -n 1 "$WORK/cs.err"; } | cut -c1-120)"
    fi
  fi
else
  row crowdsec - - - - "not installed"
fi

echo
python3 - "$ATTACKS" "$LINES" "${ROWS[@]}" <<'PY'
import sys
attacks, total = int(sys.argv[1]), int(sys.argv[2])
rows = [r.split(" ", 5) for r in sys.argv[3:]]
def rate(r):
    try:
        return int(r[1]) / float(r[2])
    except (ValueError, ZeroDivisionError):
        return None
base = rate(rows[0]) if rows else None
print(f"{'tool':<15} {'lines':>9} {'seconds':>9} {'lines/s':>11} {'attack lines flagged':>22} {'benign flagged':>15} {'vs rampart':>11}  note")
for r in rows:
    tool, lines, secs, a, b, note = (r + [""] * 6)[:6]
    lr = rate(r)
    n = attacks if tool != "crowdsec" or lines == "-" else None
    of = f"{a} of {n}" if n is not None and a != "-" else (a if a != "-" else "-")
    if tool == "crowdsec" and a != "-":
        of = f"{a} (see note)"
    print(f"{tool:<15} {lines:>9} {(f'{float(secs):.2f}' if lr else '-'):>9} "
          f"{(f'{lr:,.0f}' if lr else '-'):>11} {of:>22} {b:>15} "
          f"{(f'{lr / base:.4f}x' if lr and base else '-'):>11}  {note}")
PY
