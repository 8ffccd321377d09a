#!/usr/bin/env bash
# bench/startup.sh: time from `dandan up` (example config) to /readyz ok, and
# the idle RSS 30 s later. Runs on loopback only; prints one line per run and
# a summary. Usage: bench/startup.sh [runs] [idle_seconds]
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-5}
idle=${2:-30}
work=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null || true; rm -rf "$work"' EXIT
pid=""

go build -o "$work/dandan" ./cmd/dandan
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
sed -e "s/^  listen: 127.0.0.1:8080/  listen: 127.0.0.1:$port/" -e "s|^data_dir: data|data_dir: $work/data|" examples/dandan.yaml > "$work/dandan.yaml"

now_ms() { date +%s%3N; }
times=()
for i in $(seq "$runs"); do
  rm -rf "$work/data"
  t0=$(now_ms)
  "$work/dandan" up --config "$work/dandan.yaml" >"$work/log" 2>&1 &
  pid=$!
  until curl -fs "http://127.0.0.1:$port/readyz" >/dev/null 2>&1; do
    kill -0 "$pid" 2>/dev/null || { cat "$work/log"; exit 1; }
    sleep 0.005
  done
  t1=$(now_ms)
  times+=($((t1 - t0)))
  echo "run $i: ready in $((t1 - t0)) ms"
  if [ "$i" -lt "$runs" ]; then kill -TERM "$pid"; wait "$pid" || true; fi
done
sleep "$idle"
rss_kb=$(awk '/VmRSS/ {print $2}' "/proc/$pid/status")
kill -TERM "$pid"; wait "$pid" || true
sorted=$(printf '%s\n' "${times[@]}" | sort -n)
median=$(echo "$sorted" | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
echo "startup to /readyz ok: median ${median} ms over ${runs} runs (min $(echo "$sorted" | head -1), max $(echo "$sorted" | tail -1))"
echo "idle RSS after ${idle}s: $((rss_kb / 1024)) MiB (${rss_kb} KiB)"
