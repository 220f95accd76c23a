#!/usr/bin/env bash
# pair.sh BUILD RATE DUR [extra server flags]: one open-model run, server on core 0, loadgen on core 1
# Placement (defaults: the one-core scenarios): SERVER_CPUS=0 WORKERS=1 LG_NICE=0. rw1-two-cores'
# placement is SERVER_CPUS=0,1 WORKERS=2 LG_NICE=-10 (loadgen shares core 1 with the server).
set -u
B=$1; R=$2; D=$3; shift 3
cd /tmp/wt$B
rm -rf /tmp/pd; mkdir -p /tmp/pd
taskset -c ${SERVER_CPUS:-0} node dist/src/cli.js serve --storage-dir /tmp/pd/wal --listen 127.0.0.1:9290 --metrics-listen 127.0.0.1:9291 --workers ${WORKERS:-1} --log-level warn --max-disk-usage 60GiB "$@" > /tmp/pd.log 2>&1 &
S=$!; sec0=$(awk "{print \$7}" /sys/block/vda/stat)
for i in $(seq 100); do curl -sf 127.0.0.1:9291/readyz >/dev/null && break; sleep 0.1; done
out=$(nice -n ${LG_NICE:-0} taskset -c 1 node dist/perf/loadgen.js --url http://127.0.0.1:9290/api/v1/write --rate $R --duration $D --warmup 5s --quiet ${LG_ARGS:-} --latency-log /tmp/lat-$B-$R-$(date +%H%M%S).log)
cpu=$(awk '{print ($14+$15)/100}' /proc/$S/stat)
wb=$(curl -s 127.0.0.1:9291/metrics | grep -E '^adxmon_ingestor_wal_writeback_started_bytes_total' | awk '{print $2}')
fl=$(curl -s 127.0.0.1:9291/metrics | grep -E "^adxmon_ingestor_wal_flush_(requests|duration_seconds|wait_seconds)_(sum|count)" | awk "{printf \"%s \", \$2}")
kill $S; wait $S 2>/dev/null; sync; sec1=$(awk "{print \$7}" /sys/block/vda/stat); wal=$(du -sb /tmp/pd/wal | cut -f1); dev="fl=[$fl] dev/wal=$(echo "scale=2; ($sec1-$sec0)*512/$wal" | bc)"
echo "$B $R $(date +%H:%M:%S) cpu=$cpu wb=$wb $dev $(node -e 'const j=JSON.parse(process.argv[1]);console.log(`sps=${j.samplesPerSec} p50=${j.latencyMs.p50} p99=${j.latencyMs.p99} max=${j.latencyMs.max} late=${j.late} lag=${j.maxStartLagMs} st=${JSON.stringify(j.statusCounts)}`)' "$out")"
