#!/usr/bin/env bash
# Whole-server throughput: the ingestor (built, dist/) pinned to SERVER_CPUS, the load generator
# pinned to LOAD_CPU, closed model (as fast as CONNECTIONS requests in flight allow), RUNS runs.
# Prints each run and the median samples/s, p50/p99 latency and peak RSS (VmHWM) of the server.
#
#   npm run build && bash perf/server-throughput.sh            # server on core 0, 1 worker
#   SERVER_CPUS=0,1 WORKERS=2 bash perf/server-throughput.sh   # both cores
#   PROTOCOL=2 SERIES=1000000 bash perf/server-throughput.sh
set -euo pipefail
cd "$(dirname "$0")/.."
SERVER_CPUS=${SERVER_CPUS:-0} WORKERS=${WORKERS:-1} LOAD_CPU=${LOAD_CPU:-1} RUNS=${RUNS:-3}
DURATION=${DURATION:-10s} CONNECTIONS=${CONNECTIONS:-32} PROTOCOL=${PROTOCOL:-1} SERIES=${SERIES:-100000}
EXTRA=${EXTRA:-}
port=$((20000 + RANDOM % 20000))
results=()
for run in $(seq 1 "$RUNS"); do
  dir=$(mktemp -d -t adxi-perf.XXXXXX)
  # shellcheck disable=SC2086
  taskset -c "$SERVER_CPUS" node dist/src/cli.js serve --storage-dir "$dir" --listen "127.0.0.1:$port" \
    --metrics-listen "127.0.0.1:$((port + 1))" --workers "$WORKERS" --log-level warn $EXTRA 2>"$dir.log" &
  pid=$!
  for _ in $(seq 1 50); do curl -sf "http://127.0.0.1:$((port + 1))/healthz" >/dev/null && break; sleep 0.1; done
  out=$(taskset -c "$LOAD_CPU" node dist/perf/loadgen.js --url "http://127.0.0.1:$port/api/v1/write" --protocol "$PROTOCOL" \
    --series "$SERIES" --duration "$DURATION" --warmup 3s --connections "$CONNECTIONS" --quiet 2>/dev/null)
  hwm=$(awk '/VmHWM/ {print $2}' "/proc/$pid/status")
  kill "$pid"; wait "$pid" 2>/dev/null || true
  rm -rf "$dir" "$dir.log"
  line=$(node -e 'const r=JSON.parse(process.argv[1]);const bad=Object.entries(r.statusCounts).filter(([k])=>k!=="204").map(([k,v])=>k+":"+v).join(",");console.log(r.samplesPerSec, r.latencyMs.p50, r.latencyMs.p99, bad||"-")' "$out")
  read -r sps p50 p99 bad <<<"$line"
  echo "run $run: $sps samples/s, p50 ${p50} ms, p99 ${p99} ms, peak RSS $((hwm / 1024)) MiB, non-204: $bad"
  results+=("$sps $p50 $p99 $hwm")
done
printf '%s\n' "${results[@]}" | sort -n | awk -v n="$RUNS" -v cpus="$SERVER_CPUS" -v w="$WORKERS" -v proto="$PROTOCOL" -v series="$SERIES" '
  { sps[NR]=$1; p50[NR]=$2; p99[NR]=$3; rss[NR]=$4 }
  END { m=int((n+1)/2); printf "median of %d: %d samples/s (min %d, max %d), p50 %s ms, p99 %s ms, peak RSS %d MiB  [server cpus %s, %s workers, remote write %s, %d series]\n", n, sps[m], sps[1], sps[n], p50[m], p99[m], rss[m]/1024, cpus, w, (proto==2?"2.0":"1.0"), series }'
