#!/usr/bin/env bash
# Compare kmsd with the codec ceiling (bench/ceiling) and PyKMIP's server
# under the same `kmsctl bench` loads, on this machine. See bench/README.md.
#
# Settings, as environment variables or flags (flags win):
#   DURATION    --duration     measured time per load and run      (10s)
#   WARMUP      --warmup       unmeasured time before each load     (2s)
#   CONNECTIONS --connections  concurrent connections               (32)
#   PRELOAD     --preload      named keys made first, for locate    (1000)
#   RUNS        --runs         runs of every load; medians reported (3)
#   TIMEOUT     --timeout      limit of one request                 (60s)
#   OPS         --ops          loads: create get register locate    (all four)
#   SERVERS     --servers      kmsd ceiling pykmip                  (all three)
#   KEEP=1      --keep         keep the work folder (logs, JSON results)
set -euo pipefail

DURATION=${DURATION:-10s}
WARMUP=${WARMUP:-2s}
CONNECTIONS=${CONNECTIONS:-32}
PRELOAD=${PRELOAD:-1000}
RUNS=${RUNS:-3}
TIMEOUT=${TIMEOUT:-60s}
OPS=${OPS:-create get register locate}
SERVERS=${SERVERS:-kmsd ceiling pykmip}
KEEP=${KEEP:-}

usage() { sed -n '2,15s/^# \{0,1\}//p' "$0"; }
while [ $# -gt 0 ]; do
  case "$1" in
    --duration) DURATION=$2; shift 2 ;;
    --warmup) WARMUP=$2; shift 2 ;;
    --connections) CONNECTIONS=$2; shift 2 ;;
    --preload) PRELOAD=$2; shift 2 ;;
    --runs) RUNS=$2; shift 2 ;;
    --timeout) TIMEOUT=$2; shift 2 ;;
    --ops) OPS=$2; shift 2 ;;
    --servers) SERVERS=$2; shift 2 ;;
    --keep) KEEP=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "compare.sh: unknown argument $1" >&2; usage >&2; exit 2 ;;
  esac
done
for op in $OPS; do
  case "$op" in create|get|register|locate) ;; *) echo "compare.sh: unknown load $op: want create, get, register, locate" >&2; exit 2 ;; esac
done
# Locate runs first, right after the preload, so that it searches the
# preloaded keys and few others (PyKMIP's Locate reads every object).
if [[ " $OPS " == *" locate "* ]]; then
  OPS="locate $(echo " $OPS " | sed 's/ locate / /g')"
fi
case "$RUNS" in ''|*[!0-9]*|0) echo "compare.sh: RUNS must be a positive number" >&2; exit 2 ;; esac
if [ "$PRELOAD" -lt 1 ] && [[ " $OPS " == *" locate "* ]]; then
  echo "compare.sh: the locate load needs PRELOAD of at least 1" >&2; exit 2
fi

root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/kmsd-compare.XXXXXX")
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3

# Every server runs in a process group of its own, stopped on exit.
pgids=()
cleanup() {
  local status=$?
  trap - EXIT INT TERM
  for pg in "${pgids[@]}"; do
    kill -TERM -- "-$pg" 2>/dev/null || true
  done
  for pg in "${pgids[@]}"; do
    for _ in $(seq 1 100); do
      kill -0 -- "-$pg" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL -- "-$pg" 2>/dev/null || true
  done
  if [ -n "$KEEP" ]; then
    echo "work folder kept: $work" >&2
  else
    rm -rf "$work"
  fi
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

start() { # start NAME COMMAND...: runs COMMAND in a new session, output in $work/NAME.log
  local name=$1; shift
  setsid "$@" >"$work/$name.log" 2>&1 &
  pgids+=("$!")
  eval "pid_$name=$!"
}

free_ports() { # free_ports N: N loopback ports free right now
  "$PY" -c 'import socket,sys
ss=[socket.socket() for _ in range(int(sys.argv[1]))]
for s in ss: s.bind(("127.0.0.1",0))
print(" ".join(str(s.getsockname()[1]) for s in ss))' "$1"
}

wait_for() { # wait_for NAME PID SECONDS COMMAND...: until COMMAND succeeds
  local name=$1 pid=$2 secs=$3; shift 3
  for _ in $(seq 1 $((secs * 5))); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "$name exited; its log:" >&2; tail -20 "$work/$name.log" >&2; return 1
    fi
    sleep 0.2
  done
  echo "$name is not ready after ${secs}s; its log:" >&2; tail -20 "$work/$name.log" >&2
  return 1
}

echo "building kmsd, kmsctl and the ceiling ..." >&2
mkdir -p "$work/bin"
(cd "$root" && CGO_ENABLED=0 go build -trimpath -o "$work/bin/" ./cmd/kmsd ./cmd/kmsctl ./bench/ceiling)
KMSCTL=$work/bin/kmsctl
pki=$work/kmsd/pki

declare -A addr
read -r kmip_port admin_port raft_port ceiling_port pykmip_port <<<"$(free_ports 5)"
# kmsd dev makes the dev PKI that the other two servers and kmsctl use.
start kmsd "$work/bin/kmsd" dev -data-dir "$work/kmsd" -kmip-addr "127.0.0.1:$kmip_port" \
  -admin-addr "127.0.0.1:$admin_port" -raft-addr "127.0.0.1:$raft_port" -gossip-addr "" -log-level warn
wait_for kmsd "$pid_kmsd" 60 grep -q "KMS ready" "$work/kmsd.log"
ready() { "$KMSCTL" --server "$1" --dev-dir "$work/kmsd" --timeout 5s key locate --max 1; }
wait_for kmsd "$pid_kmsd" 30 ready "127.0.0.1:$kmip_port"
addr[kmsd]=127.0.0.1:$kmip_port

servers=()
for s in $SERVERS; do
  case "$s" in
    kmsd) servers+=(kmsd) ;;
    ceiling)
      start ceiling "$work/bin/ceiling" -addr "127.0.0.1:$ceiling_port" -ca "$pki/ca.pem" -cert "$pki/server.pem" -key "$pki/server.key"
      wait_for ceiling "$pid_ceiling" 30 ready "127.0.0.1:$ceiling_port"
      addr[ceiling]=127.0.0.1:$ceiling_port
      servers+=(ceiling) ;;
    pykmip)
      if ! command -v pykmip-server >/dev/null 2>&1; then
        echo "PyKMIP: pykmip-server not found (apt-get install python3-pykmip); skipping it" >&2
        continue
      fi
      mkdir -p "$work/pykmip/policies"
      # TLS1.2 is the suite with ECDHE-ECDSA ciphers, which the dev PKI's
      # P-256 server key needs (the Basic suite has RSA ciphers only).
      cat >"$work/pykmip/server.conf" <<EOF
[server]
hostname=127.0.0.1
port=$pykmip_port
certificate_path=$pki/server.pem
key_path=$pki/server.key
ca_path=$pki/ca.pem
auth_suite=TLS1.2
policy_path=$work/pykmip/policies
enable_tls_client_auth=True
logging_level=WARNING
database_path=$work/pykmip/pykmip.db
EOF
      # From the work folder: a kmip/ folder in the current directory
      # would shadow PyKMIP's package.
      start pykmip env -C "$work/pykmip" pykmip-server -f "$work/pykmip/server.conf" -l "$work/pykmip/server.log"
      if wait_for pykmip "$pid_pykmip" 30 ready "127.0.0.1:$pykmip_port"; then
        addr[pykmip]=127.0.0.1:$pykmip_port
        servers+=(pykmip)
      else
        echo "PyKMIP: its server did not answer over TLS with the dev PKI's certificates; skipping it" >&2
      fi ;;
    *) echo "compare.sh: unknown server $s: want kmsd, ceiling, pykmip" >&2; exit 2 ;;
  esac
done

bench() { # bench SERVER OUTFILE ARGS...: a failed run is reported and left out
  local server=$1 out=$2; shift 2
  if ! "$KMSCTL" --server "${addr[$server]}" --dev-dir "$work/kmsd" --timeout "$TIMEOUT" -o json bench \
    --connections "$CONNECTIONS" "$@" >"$out" 2>"$out.err"; then
    echo "warning: $server: kmsctl bench $*: $(cat "$out.err")" >&2
    return 1
  fi
}

field() { # field FILE EXPR: one value of a bench result, with jq or python3
  if command -v jq >/dev/null 2>&1; then
    jq -cr "$2" "$1"
  else
    "$PY" -c 'import json,sys
v=json.load(open(sys.argv[1]))
for k in sys.argv[2].lstrip(".").split("."): v=v[k]
print(json.dumps(v, separators=(",", ":")) if isinstance(v, dict) else v)' "$1" "$2"
  fi
}

echo "$(nproc) cores; $CONNECTIONS connections, $DURATION per load after $WARMUP warm-up, $RUNS runs, request timeout $TIMEOUT; servers: ${servers[*]}" >&2
results=$work/results.tsv
declare -A preloaded
: >"$results"
if [[ " $OPS " == *" locate "* ]]; then
  for s in "${servers[@]}"; do
    echo "preloading $PRELOAD keys into $s ..." >&2
    if bench "$s" "$work/$s-preload.json" --mix none --preload "$PRELOAD"; then
      preloaded[$s]=1
      printf '%s\tpreload\t0\t%s\t0\t0\t{}\n' "$s" "$(field "$work/$s-preload.json" .preload.keys_per_second)" >>"$results"
    fi
  done
fi
# Each load's runs back to back, the servers taking turns within a run.
for op in $OPS; do
  for run in $(seq 1 "$RUNS"); do
    for s in "${servers[@]}"; do
      extra=()
      if [ "$op" = locate ]; then
        [ -n "${preloaded[$s]:-}" ] || continue
        extra=(--locate-names "$PRELOAD")
      fi
      f=$work/$s-$op-$run.json
      echo "run $run/$RUNS: $op on $s ..." >&2
      bench "$s" "$f" --mix "$op" --duration "$DURATION" --warmup "$WARMUP" "${extra[@]}" || continue
      printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$s" "$op" "$run" "$(field "$f" .total.ops_per_second)" \
        "$(field "$f" .total.p99_ms)" "$(field "$f" .total.errors)" "$(field "$f" .total.errors_by_kind)" >>"$results"
    done
  done
done

"$PY" - "$results" "$OPS" "${servers[*]}" <<'EOF'
import statistics, sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1]) if l.strip()]
ops, servers = sys.argv[2].split(), sys.argv[3].split()
def med(server, op, col):
    vals = [float(r[col]) for r in rows if r[0] == server and r[1] == op]
    return statistics.median(vals) if vals else None
def num(v, unit=""):
    return "-" if v is None else (f"{v:.0f}" if v >= 100 else f"{v:.3g}") + unit
def ratio(a, b):
    return "-" if a is None or not b else f"{a / b:.2f}"
header = ["load"] + [f"{s} ops/s" for s in servers] + [f"{s} p99" for s in servers]
others = [s for s in ("ceiling", "pykmip") if s in servers and "kmsd" in servers]
header += [f"kmsd/{s}" for s in others]
table = [header]
for op in (["preload"] if any(r[1] == "preload" for r in rows) else []) + ops:
    row = [op] + [num(med(s, op, 3)) for s in servers]
    row += ["-" if op == "preload" or not med(s, op, 3) else num(med(s, op, 4), "ms") for s in servers]
    row += [ratio(med("kmsd", op, 3), med(s, op, 3)) for s in others]
    table.append(row)
widths = [max(len(r[i]) for r in table) for i in range(len(header))]
print("medians over runs; ops/s of successful operations, p99 latency; preload in keys/s")
for r in table:
    print("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip())
errs = [r for r in rows if r[1] != "preload" and float(r[5]) > 0]
for r in errs:
    print(f"warning: {r[0]} {r[1]} run {r[2]}: {r[5]} errors {r[6]}")
EOF
