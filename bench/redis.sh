#!/usr/bin/env bash
# bench/redis.sh: the Redis inspector against redis-cli on 1,000,000 keys,
# on a standalone redis-server and on a 3-master cluster holding the same
# keys. Loopback only; every step is bounded by `timeout`.
#
#   bench/redis.sh            # 1 M keys (about 3-4 min on 2 cores)
#   KEYS=200000 bench/redis.sh
#
# It prints, per topology:
#   - a whole-keyspace pattern search (user:0001*, ~10 k hits, with type,
#     length and TTL) through `dandan redis`'s API, against
#     `redis-cli --scan --pattern` (COUNT 10; on a cluster: every master in
#     sequence) and a bare SCAN COUNT 1000 walk of every master in parallel
#     (BenchmarkScan in internal/redis: redis-cli 7.0 has no --count), which
#     also times the inspector's search in-process, with and without
#     type/length/TTL, on the same pattern and on every key;
#   - a type-filtered search (type=hash, every hash with length and TTL)
#     against `redis-cli --bigkeys`;
#   - the most expensive command the inspector sent (INFO commandstats
#     usec_per_call, after CONFIG RESETSTAT);
#   - redis-benchmark p99 of GET/SET alone and beside a big-keys scan, in
#     P99_ROUNDS (5) alternating pairs: the machine is shared, so it prints
#     the median of each side and the median of the paired changes.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${KEYS:-1000000}
T=${TIMEOUT:-300}
work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  [ -n "${KEEP:-}" ] || rm -rf "$work"
}
trap cleanup EXIT
for b in redis-server redis-cli redis-benchmark python3 curl; do
  command -v "$b" >/dev/null || { echo "bench/redis.sh: $b is missing (apt-get install redis-server redis-tools python3 curl)" >&2; exit 1; }
done
# freeport prints a free loopback port whose cluster bus port (+10000) is
# free too.
freeport() {
  python3 -c '
import socket, random
while True:
    p = random.randint(20000, 50000)
    try:
        for q in (p, p + 10000):
            s = socket.socket(); s.bind(("127.0.0.1", q)); s.close()
        print(p); break
    except OSError:
        pass'
}
# waitfor runs a command until it succeeds, for at most 30 s.
waitfor() {
  local i
  for i in $(seq 600); do "$@" >/dev/null 2>&1 && return 0; sleep 0.05; done
  echo "bench/redis.sh: gave up waiting for: $*" >&2; exit 1
}
ms() { date +%s%3N; }

start_redis() { # dir port [extra config lines...]
  local dir=$1 port=$2; shift 2
  mkdir -p "$dir"
  { echo "port $port"; echo "bind 127.0.0.1"; echo "dir $dir"; echo 'save ""'; echo "appendonly no"; echo "protected-mode no"
    for l in "$@"; do echo "$l"; done; } > "$dir/redis.conf"
  redis-server "$dir/redis.conf" > "$dir/log" 2>&1 &
  pids+=($!)
  waitfor redis-cli -p "$port" ping
}

echo "== building dandan and starting servers ($N keys)"
go build -o "$work/dandan" ./cmd/dandan
go test -c -o "$work/redis.test" ./internal/redis
solo=$(freeport)
start_redis "$work/solo" "$solo"
cports=()
for i in 0 1 2; do
  p=$(freeport); cports+=("$p")
  start_redis "$work/c$i" "$p" "cluster-enabled yes" "cluster-config-file nodes.conf" "cluster-node-timeout 5000"
done
timeout 60 redis-cli --cluster create "127.0.0.1:${cports[0]}" "127.0.0.1:${cports[1]}" "127.0.0.1:${cports[2]}" --cluster-yes >/dev/null
clusterok() { for p in "${cports[@]}"; do redis-cli -p "$p" cluster info | grep -q 'cluster_state:ok' || return 1; done; }
waitfor clusterok

echo "== loading (pipelined RESP through redis-cli --pipe)"
cat > "$work/load.py" <<'PY'
import sys
n, out = int(sys.argv[1]), sys.argv[2]
ranges = [tuple(map(int, r.split(":"))) for r in sys.argv[3:]]  # start:end:index
tab = []
for i in range(256):
    c = i << 8
    for _ in range(8):
        c = ((c << 1) ^ 0x1021) if c & 0x8000 else (c << 1)
    tab.append(c & 0xFFFF)
def slot(k):
    c = 0
    for b in k:
        c = ((c << 8) & 0xFFFF) ^ tab[((c >> 8) ^ b) & 0xFF]
    return c & 16383
def cmd(*a):
    parts = [b"*%d\r\n" % len(a)]
    for x in a:
        x = x if isinstance(x, bytes) else str(x).encode()
        parts.append(b"$%d\r\n%s\r\n" % (len(x), x))
    return b"".join(parts)
files = [open(f"{out}.{j}", "wb") for j in range(max(1, len(ranges)))]
for i in range(n):
    kind = i % 20
    m = 1 + i % 17
    if kind < 14:
        k = b"user:%07d" % i
        c = cmd(b"SET", k, b"v" * (8 + i % 50)) if i % 10 else cmd(b"SET", k, b"x" * 16, b"EX", 86400)
    elif kind < 16:
        k = b"session:%07d" % i
        a = [b"HSET", k]
        for f in range(m):
            a += [b"f%d" % f, b"value%d" % f]
        c = cmd(*a)
    elif kind < 18:
        k = b"queue:%07d" % i
        c = cmd(b"RPUSH", k, *[b"item%d" % f for f in range(m)])
    elif kind == 18:
        k = b"tags:%07d" % i
        c = cmd(b"SADD", k, *[b"t%d" % f for f in range(m)])
    else:
        k = b"rank:%07d" % i
        a = [b"ZADD", k]
        for f in range(m):
            a += [f, b"m%d" % f]
        c = cmd(*a)
    j = 0
    if ranges:
        s = slot(k)
        j = next(r[2] for r in ranges if r[0] <= s <= r[1])
    files[j].write(c)
for f in files:
    f.close()
PY
t0=$(ms)
python3 "$work/load.py" "$N" "$work/solo.resp"
timeout "$T" redis-cli -p "$solo" --pipe < "$work/solo.resp.0" >/dev/null
slotargs=()
for i in 0 1 2; do
  while read -r a b; do slotargs+=("$a:$b:$i"); done < <(redis-cli -p "${cports[$i]}" cluster nodes | awk '/myself/ {for (f=9; f<=NF; f++) {split($f, r, "-"); print r[1], (r[2]==""?r[1]:r[2])}}')
done
python3 "$work/load.py" "$N" "$work/cl.resp" "${slotargs[@]}"
for i in 0 1 2; do timeout "$T" redis-cli -p "${cports[$i]}" --pipe < "$work/cl.resp.$i" >/dev/null; done
echo "loaded in $(( $(ms) - t0 )) ms: standalone $(redis-cli -p "$solo" dbsize) keys, cluster $(( $(redis-cli -p "${cports[0]}" dbsize) + $(redis-cli -p "${cports[1]}" dbsize) + $(redis-cli -p "${cports[2]}" dbsize) )) keys"

port=$(freeport)
cat > "$work/dandan.yaml" <<YAML
data_dir: $work/data
log: {level: warn}
server: {listen: 127.0.0.1:$port, access_log: false}
auth: {loopback_role: viewer, login_link: false}
redis:
  connections:
    solo: {addr: 127.0.0.1:$solo}
    cluster: {cluster: [127.0.0.1:${cports[0]}]}
  search_budget: 120s
  bigkeys: {rate: ${BIGKEYS_RATE:-2000}, batch: ${BIGKEYS_BATCH:-20}}
YAML
"$work/dandan" redis --config "$work/dandan.yaml" > "$work/dandan.log" 2>&1 &
pids+=($!)
waitfor curl -fs "http://127.0.0.1:$port/readyz"

cat > "$work/search.py" <<'PY'
import json, sys, time, urllib.request, urllib.parse
base, conn, query = sys.argv[1], sys.argv[2], sys.argv[3]
t0 = time.monotonic()
n, cursor, pages = 0, "", 0
while True:
    q = query + ("&cursor=" + cursor if cursor else "")
    with urllib.request.urlopen(f"{base}/api/redis/{conn}/keys?{q}", timeout=300) as r:
        page = json.load(r)
    n += len(page["keys"]); pages += 1
    if page["done"]:
        break
    cursor = page["cursor"]
print(f"{(time.monotonic() - t0) * 1000:.0f} {n} {pages}")
PY
api="http://127.0.0.1:$port"
search() { timeout "$T" python3 "$work/search.py" "$api" "$1" "$2"; }
clitime() { # ports... -- args...  : run redis-cli with args on each port in sequence; prints ms and lines
  local ports=() t0 lines=0
  while [ "$1" != "--" ]; do ports+=("$1"); shift; done; shift
  t0=$(ms)
  for p in "${ports[@]}"; do lines=$(( lines + $(timeout "$T" redis-cli -p "$p" "$@" | wc -l) )); done
  echo "$(( $(ms) - t0 )) $lines"
}
gobench() { # topology pattern: prints bare, search with meta, search names (ms)
  local env=DANDAN_BENCH_REDIS=127.0.0.1:$solo
  [ "$1" = cluster ] && env=DANDAN_BENCH_CLUSTER=127.0.0.1:${cports[0]}
  env "$env" DANDAN_BENCH_PATTERN="$2" timeout "$T" "$work/redis.test" -test.run '^$' -test.bench 'BenchmarkScan/' -test.benchtime 3x |
    awk '/bare-scan/ {b=$3; bc=$5} /search-meta-true/ {m=$3} /search-meta-false/ {n=$3; nc=$5} END {printf "%.0f %.0f %.0f %.0f %.0f\n", b/1e6, m/1e6, n/1e6, bc, nc}'
}
ratio() { python3 -c "print(f'{$1/$2:.2f}')"; }
best() { # run a command 3 times, keep the fastest (first field)
  local b="" r
  for _ in 1 2 3; do r=$("$@"); if [ -z "$b" ] || [ "${r%% *}" -lt "${b%% *}" ]; then b=$r; fi; done
  echo "$b"
}

summary=()
for topo in solo cluster; do
  if [ "$topo" = solo ]; then ports=("$solo"); else ports=("${cports[@]}"); fi
  echo "== $topo"
  for p in "${ports[@]}"; do redis-cli -p "$p" config resetstat >/dev/null; done
  read -r ours_ms ours_n ours_pages <<<"$(best search "$topo" "pattern=user:0001*&min=1000000")"
  read -r cli_ms cli_n <<<"$(best clitime "${ports[@]}" -- --scan --pattern 'user:0001*')"
  read -r bare_ms insearch_ms innames_ms _ _ <<<"$(gobench "$topo" 'user:0001*')"
  echo "pattern search user:0001*: dandan API ${ours_ms} ms (${ours_n} keys with type/len/TTL, ${ours_pages} pages) · redis-cli --scan --pattern ${cli_ms} ms (${cli_n}) · bare SCAN COUNT 1000 ${bare_ms} ms"
  echo "  in-process search: with type/len/TTL ${insearch_ms} ms, names only ${innames_ms} ms"
  echo "  redis-cli / dandan = $(ratio "$cli_ms" "$ours_ms")x (target >= 2.5) · dandan API / bare = $(ratio "$ours_ms" "$bare_ms")x, in-process names / bare = $(ratio "$innames_ms" "$bare_ms")x (target <= 1.3)"
  read -r all_ms all_n all_pages <<<"$(best search "$topo" "pattern=*&min=1000000&meta=0")"
  read -r barea_ms _ inall_ms barea_cpu inall_cpu <<<"$(gobench "$topo" '*')"
  echo "every key name: dandan API ${all_ms} ms (${all_n} keys, JSON included) · in-process ${inall_ms} ms · bare SCAN COUNT 1000 ${barea_ms} ms · in-process / bare = $(ratio "$inall_ms" "$barea_ms")x (target <= 1.3) · client CPU ${inall_cpu} ms vs bare ${barea_cpu} ms"
  read -r typ_ms typ_n typ_pages <<<"$(search "$topo" "pattern=*&type=hash&min=1000000")"
  read -r big_ms big_n <<<"$(clitime "${ports[@]}" -- --bigkeys)"
  echo "type=hash search with len/TTL: dandan ${typ_ms} ms (${typ_n} keys) · redis-cli --bigkeys ${big_ms} ms · bigkeys / dandan = $(ratio "$big_ms" "$typ_ms")x (target >= 1.5)"
  worst=$(for p in "${ports[@]}"; do redis-cli -p "$p" info commandstats | tr -d '\r'; done | awk -F'[:,=]' '/^cmdstat_/ && $0 !~ /cmdstat_(config|info)[|:]/ {print $7, $1}' | sort -rn | head -3 | tr '\n' ';')
  echo "most expensive inspector commands (usec_per_call): $worst"
  summary+=("$topo: pattern search ${ours_ms} ms vs redis-cli ${cli_ms} ms ($(ratio "$cli_ms" "$ours_ms")x) vs bare ${bare_ms} ms ($(ratio "$ours_ms" "$bare_ms")x); all names in-process ${inall_ms} ms vs bare ${barea_ms} ms ($(ratio "$inall_ms" "$barea_ms")x); type search ${typ_ms} ms vs --bigkeys ${big_ms} ms ($(ratio "$big_ms" "$typ_ms")x); max usec/call ${worst%%;*}")
done

echo "== redis-benchmark p99 on the standalone server, alone and beside a big-keys scan (rate ${BIGKEYS_RATE:-2000}/s, batch ${BIGKEYS_BATCH:-20})"
p99() { timeout 120 redis-benchmark -p "$solo" -t get,set -n 200000 -c 20 -r 1000000 --csv | tr -d '"' | awk -F, 'NR>1 {s+=$7; n++} END {printf "%.3f", s/n}'; }
alone=(); with=()
for _ in $(seq "${P99_ROUNDS:-5}"); do
  alone+=("$(p99)")
  curl -fs -X POST "$api/api/redis/solo/bigkeys" >/dev/null
  with+=("$(p99)")
  state=$(curl -fs "$api/api/redis/solo/bigkeys" | python3 -c 'import json,sys; r=json.load(sys.stdin); print(r["state"], r["scanned"], "keys scanned")')
  curl -fs -X POST "$api/api/redis/solo/bigkeys/cancel" >/dev/null
done
read -r base withscan change <<<"$(python3 - "${alone[*]}" "${with[*]}" <<'PY'
import sys, statistics as st
a = [float(x) for x in sys.argv[1].split()]
w = [float(x) for x in sys.argv[2].split()]
print(f"{st.median(a):.3f} {st.median(w):.3f} {st.median([y / x - 1 for x, y in zip(a, w)]) * 100:+.1f}%")
PY
)"
echo "p99 ms (GET/SET mean of p99), ${#alone[@]} pairs: alone ${alone[*]} · beside big-keys scan (last: $state) ${with[*]}"
echo "  medians: alone $base · beside $withscan · median paired change $change (target <= +10%)"
summary+=("redis-benchmark p99 (medians of ${#alone[@]}): alone ${base} ms, beside big-keys ${withscan} ms, paired change ${change}")
echo "== summary"
printf '%s\n' "${summary[@]}"
