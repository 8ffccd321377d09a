#!/usr/bin/env bash
# bench/watch.sh: `dandan watch` against mtail (Debian package, installed if
# missing), both tailing the SAME file while a writer appends media-format
# lines to it at a steady rate. Both start before the writer, so each must
# count every line. Over the steady-state window (after WARMUP seconds, to
# the writer's end) it samples each process's CPU seconds (utime + stime,
# /proc/PID/stat) and RSS (VmRSS) every SAMPLE seconds, then prints CPU
# seconds and % of a core for each, mtail's CPU over dandan's (target >= 10),
# RSS at the start and end of the window and its max, and dandan's RSS growth
# (target: within 10 %). At the end both totals must equal what was written.
#
# Usage: bench/watch.sh
# Env: RATE 10000 (lines/s), DURATION 300 (s of writing; 1800 for the full
# 30-minute run), WARMUP 20 (s not measured), SAMPLE 10 (s between samples),
# INTERVAL 10s (dandan's watch.interval), TICK 10ms (the writer appends the
# lines due every TICK), URLS 300000 (distinct raw paths), SEED 1, PROFILE=1
# takes a PROFILE_SECONDS (30) CPU profile of dandan from PROFILE_AT
# (WARMUP) s after the writer starts, and a heap profile at the window's
# end, and prints their top functions (the profiler's own cost is then in
# dandan's figures), TIMEOUT 120 (s each tool
# may take to catch up after the writer stops), TMPDIR, KEEP=1 keeps the
# work dir, DANDAN=path runs that binary instead of building ./cmd/dandan.
# Exits 1 if a tool dies or a total disagrees; missed targets are marked
# MISSED, not failures.
set -euo pipefail
cd "$(dirname "$0")/.."


case "${1:-}" in
"") ;;
-h | --help)
	sed -n '2,/^set -e/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'
	exit 0
	;;
*)
	echo "usage: bench/watch.sh (settings in the environment; see --help)" >&2
	exit 2
	;;
esac
: "${RATE:=10000}" "${DURATION:=300}" "${WARMUP:=20}" "${SAMPLE:=10}" "${INTERVAL:=10s}" "${TICK:=10ms}"
: "${URLS:=300000}" "${SEED:=1}" "${PROFILE:=0}" "${PROFILE_SECONDS:=30}" "${PROFILE_AT:=$WARMUP}"
: "${TIMEOUT:=120}" "${KEEP:=0}"
if [ "$DURATION" -lt $((WARMUP + 2 * SAMPLE)) ]; then
	echo "DURATION ($DURATION) must be at least WARMUP + 2 × SAMPLE ($((WARMUP + 2 * SAMPLE)))" >&2
	exit 2
fi
if [ "$PROFILE" = 1 ] && [ "$DURATION" -lt $((PROFILE_AT + PROFILE_SECONDS + 5)) ]; then
	echo "PROFILE=1 needs DURATION >= PROFILE_AT + PROFILE_SECONDS + 5 ($((PROFILE_AT + PROFILE_SECONDS + 5)))" >&2
	exit 2
fi
t_start=$(date +%s)

# --- peers ------------------------------------------------------------------
need=()
command -v mtail >/dev/null || need+=(mtail)
command -v python3 >/dev/null || need+=(python3)
command -v curl >/dev/null || need+=(curl)
if [ ${#need[@]} -gt 0 ]; then
	sudo=""
	[ "$(id -u)" = 0 ] || sudo=sudo
	echo "installing ${need[*]} from Debian"
	$sudo apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}" >/dev/null
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/dandan-bench-watch.XXXXXX")
pids=() # processes this script started, stopped at exit
cleanup() {
	# The writer is a subshell running a pipeline: stop its children too.
	if [ -n "${wpid:-}" ]; then
		for p in $(ps -o pid= --ppid "$wpid" 2>/dev/null); do kill "$p" 2>/dev/null || true; done
	fi
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
	if [ "$KEEP" = 1 ]; then echo "kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM
mkdir -p "$work/mtail" "$work/progs"

if [ -n "${DANDAN:-}" ]; then
	cp "$DANDAN" "$work/dandan"
else
	go build -o "$work/dandan" ./cmd/dandan
fi
go build -o "$work/loggen" ./bench/loggen
go build -o "$work/rate" ./bench/rate
# mtail loads every program in --progs: give it a directory with ours only.
cp bench/mtail/media.mtail "$work/progs/"

echo "bench/watch.sh: $(date -u +%FT%TZ), $(nproc) cores, $(uname -r), load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "  dandan ${DANDAN:-$(git describe --always --dirty 2>/dev/null || echo '?')}, $(go version | cut -d' ' -f3)"
echo "  $(mtail --version 2>&1 | head -1 | cut -d' ' -f1-3)"
if awk -v l="$(cut -d' ' -f1 /proc/loadavg)" -v n="$(nproc)" 'BEGIN { exit !(l > n / 2) }'; then
	echo "  WARNING: the machine is busy (load above half its cores): the figures will be noisy"
fi
echo "  RATE=$RATE DURATION=$DURATION WARMUP=$WARMUP SAMPLE=$SAMPLE INTERVAL=$INTERVAL TICK=$TICK URLS=$URLS SEED=$SEED PROFILE=$PROFILE"

# --- helpers ----------------------------------------------------------------
calc() { awk "BEGIN { printf \"%.6f\", $1 }"; }
freeport() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
now() { echo "$EPOCHREALTIME"; }
now_us() { echo "${EPOCHREALTIME//[.,]/}"; } # microseconds, no fork
hz=$(getconf CLK_TCK)
# cpu PID: CPU seconds (user + system, not children) of PID.
cpu() {
	local stat f
	read -r stat <"/proc/$1/stat"
	read -ra f <<<"${stat##*) }" # fields from the 3rd (state); utime is the 14th
	calc "(${f[11]} + ${f[12]}) / $hz"
}
rss() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; } # KiB
# rss_parts PID: "anon file" KiB: the heap and stacks, and mapped files
# (the TSDB's memory-mapped head chunks and blocks).
rss_parts() { awk '/^RssAnon:/ { a = $2 } /^RssFile:/ { f = $2 } END { print a, f }' "/proc/$1/status"; }
alive() { # alive PID: PID runs (and is not a zombie)
	local s
	read -r s 2>/dev/null <"/proc/$1/stat" || return 1
	s=${s##*) }
	[ "${s%% *}" != Z ]
}
# waitfor SECONDS DESC CMD...: run CMD every 0.2 s until it succeeds.
waitfor() {
	local secs=$1 desc=$2 until=$(($(date +%s) + $1))
	shift 2
	until "$@" >/dev/null 2>&1; do
		if [ "$(date +%s)" -ge "$until" ]; then
			echo "FAIL: $desc: not within ${secs}s" >&2
			return 1
		fi
		sleep 0.2
	done
}
has_fd() { # has_fd PID FILE: PID has FILE open
	local fd
	for fd in /proc/"$1"/fd/*; do
		[ "$(readlink "$fd" 2>/dev/null)" = "$2" ] && return 0
	done
	return 1
}
verdict() { # verdict VALUE OP TARGET
	if awk -v v="$1" -v t="$3" -v op="$2" 'BEGIN { exit !((op == ">=" && v >= t) || (op == "<=" && v <= t)) }'; then
		echo ok
	else
		echo MISSED
	fi
}

# --- start both tools on an empty file --------------------------------------
log=$work/access.log
: >"$log"
dport=$(freeport)
mport=$(freeport)
while [ "$mport" = "$dport" ]; do mport=$(freeport); done
dandan_url=http://127.0.0.1:$dport
mtail_url=http://127.0.0.1:$mport

# dandan: the embedded store, one job on the file; no host metrics, no demo,
# no access log of its own; loopback gets the admin role, so the query API
# and pprof need no token. Paths are templated by dandan's automatic
# collapse (auto_template, the default), which turns the generator's IDs
# (numbers, UUIDs, hashes, dates, slugs, tokens) into the same ~200
# templates the mtail program's subst chain makes; the end of the run
# compares the per-template counts.
cat >"$work/dandan.yaml" <<EOF
data_dir: $work/data
log:
  level: warn
server:
  listen: 127.0.0.1:$dport
  access_log: false
auth:
  loopback_role: admin
  login_link: false
store:
  metrics:
    enabled: true
watch:
  interval: $INTERVAL
  jobs:
    - name: bench
      files: [$log]
      format: media-nginx
      from_start: false
  host:
    enabled: false
  demo:
    enabled: false
  outputs:
    store: true
EOF
"$work/dandan" config check "$work/dandan.yaml" >/dev/null
"$work/dandan" watch --config "$work/dandan.yaml" </dev/null >"$work/dandan.log" 2>&1 &
dpid=$!
pids+=("$dpid")
# The job has scanned its files once it is listed; an empty file is taken
# as found at start, at offset 0.
dandan_job_up() { curl -fs "$dandan_url/api/watch/jobs" | grep -q '"name":"bench"'; }
waitfor 60 "dandan watch listing its job" dandan_job_up || { tail -20 "$work/dandan.log" >&2; exit 1; }

# mtail: tailing mode (polls the file every 250 ms by default, as dandan
# does), its glog files in the work dir.
mtail --progs "$work/progs" --logs "$log" --address 127.0.0.1 --port "$mport" \
	--log_dir "$work/mtail" </dev/null >"$work/mtail.log" 2>&1 &
mpid=$!
pids+=("$mpid")
waitfor 60 "mtail answering /metrics" curl -fs "$mtail_url/metrics" || { tail -20 "$work/mtail.log" >&2; exit 1; }
waitfor 30 "mtail opening the log" has_fd "$mpid" "$log" || { tail -20 "$work/mtail.log" >&2; exit 1; }
sleep 1

# --- write, sample ----------------------------------------------------------
lines_total=$((RATE * DURATION))
echo
echo "writing $lines_total lines at $RATE lines/s to one file for ${DURATION}s (every $TICK, no rotation)"
(
	set +e
	"$work/loggen" -seed "$SEED" -n "$lines_total" -urls "$URLS" -start "$(date +%FT%T%:z)" -span "${DURATION}s" \
		-o - -truth "$work/truth.txt" | "$work/rate" -rate "$RATE" -tick "$TICK" -o "$log" 2>"$work/rate.out"
	echo "${PIPESTATUS[*]}" >"$work/writer.rc"
) &
wpid=$!
pids+=("$wpid")
t0=$(now)
t0_us=$(now_us)

# Samples read /proc only: asking either tool anything over HTTP during the
# window would cost it CPU (dandan's /api/watch/jobs runs PromQL queries).
samples=$work/samples.txt # t_rel dandan_cpu dandan_rss mtail_cpu mtail_rss dandan_anon dandan_file
take_sample() {
	local t d_cpu d_rss m_cpu m_rss d_parts
	t=$(calc "$(now) - $t0")
	alive "$dpid" || { echo "FAIL: dandan died; its log:" >&2; tail -20 "$work/dandan.log" >&2; exit 1; }
	alive "$mpid" || { echo "FAIL: mtail died; its log:" >&2; tail -20 "$work/mtail.log" >&2; exit 1; }
	d_cpu=$(cpu "$dpid") d_rss=$(rss "$dpid") m_cpu=$(cpu "$mpid") m_rss=$(rss "$mpid") d_parts=$(rss_parts "$dpid")
	echo "$t $d_cpu $d_rss $m_cpu $m_rss $d_parts" >>"$samples"
}
prof_pid=""
next=$WARMUP
while [ ! -e "$work/writer.rc" ]; do
	if [ $(($(now_us) - t0_us)) -ge $((next * 1000000)) ]; then
		take_sample
		if [ "$PROFILE" = 1 ] && [ -z "$prof_pid" ] && [ "$next" -ge "$PROFILE_AT" ]; then
			curl -fs -o "$work/dandan.cpu.pprof" "$dandan_url/debug/pprof/profile?seconds=$PROFILE_SECONDS" &
			prof_pid=$!
			pids+=("$prof_pid")
		fi
		next=$((next + SAMPLE))
	fi
	sleep 0.1
done
take_sample # the window's end: the writer has stopped
t_end=$(now)
# How far behind each was when the writer stopped (after the window).
d_lag=$(curl -fs "$dandan_url/api/watch/jobs" | sed -n 's/.*"lag_bytes":\([0-9]*\).*/\1/p')
m_read_end=$(curl -fs "$mtail_url/metrics" | awk '/^mtail_log_lines_total/ { n += $NF } END { printf "%d\n", n }')
if [ "$PROFILE" = 1 ]; then
	curl -fs -o "$work/dandan.heap.pprof" "$dandan_url/debug/pprof/heap" || echo "WARNING: no heap profile"
	wait "$prof_pid" || echo "WARNING: the CPU profile failed"
fi
read -r rc_gen rc_rate <"$work/writer.rc"
if [ "$rc_rate" != 0 ] || [ "$rc_gen" != 0 ]; then
	echo "FAIL: the writer failed (loggen $rc_gen, rate $rc_rate):" >&2
	cat "$work/rate.out" >&2
	exit 1
fi
written=$(sed -n 's/^rate: wrote \([0-9]*\) lines.*/\1/p' "$work/rate.out")
valid=$(awk '$1 == "valid" { print $2 }' "$work/truth.txt")
invalid=$(awk '$1 == "invalid" { print $2 }' "$work/truth.txt")
in_file=$(wc -l <"$log")

# --- catch up, check totals -------------------------------------------------
# dandan commits every INTERVAL: its store has the last lines one commit
# after it read them.
dandan_q() { # dandan_q PROMQL: the value of a one-element vector
	curl -fs "$dandan_url/api/v1/query" --data-urlencode "query=$1" |
		python3 -c 'import json,sys; r=json.load(sys.stdin)["data"]["result"]; print(r[0]["value"][1] if r else "none")'
}
mtail_sum() { # mtail_sum METRIC: sum over its series
	curl -fs "$mtail_url/metrics" | awk -v m="$1" 'index($0, m "{") == 1 || index($0, m " ") == 1 { s += $NF; n++ } END { if (n) printf "%d\n", s; else print "none" }'
}
dandan_done() { [ "$(dandan_q 'sum(http_requests_total{job="bench"})')" = "$valid" ]; }
mtail_done() { [ "$(mtail_sum mtail_log_lines_total)" = "$written" ]; }
t_w=$(now)
dandan_catch="" mtail_catch=""
while [ -z "$dandan_catch" ] || [ -z "$mtail_catch" ]; do
	[ -z "$dandan_catch" ] && dandan_done && dandan_catch=$(calc "$(now) - $t_w")
	[ -z "$mtail_catch" ] && mtail_done && mtail_catch=$(calc "$(now) - $t_w")
	if awk -v t="$(calc "$(now) - $t_w")" -v m="$TIMEOUT" 'BEGIN { exit !(t > m) }'; then
		echo "  not caught up within ${TIMEOUT}s of the writer's end" >&2
		break
	fi
	sleep 0.2
done

d_req=$(dandan_q 'sum(http_requests_total{job="bench"})')
d_inv=$(dandan_q 'sum(dandan_log_lines_invalid_total{job="bench"})')
d_read=$(curl -fs "$dandan_url/api/watch/jobs" | sed -n 's/.*"lines_read":\([0-9]*\).*/\1/p')
m_req=$(mtail_sum http_requests_total)
m_inv=$(mtail_sum log_lines_invalid_total)
m_read=$(mtail_sum mtail_log_lines_total)
echo
echo "totals check (the writer's and generator's count first):"
printf '  %-22s %12s %12s %12s\n' "" written dandan mtail
printf '  %-22s %12s %12s %12s\n' "lines read" "$written" "${d_read:-none}" "$m_read"
printf '  %-22s %12s %12s %12s\n' "requests (valid)" "$valid" "$d_req" "$m_req"
printf '  %-22s %12s %12s %12s\n' "invalid lines" "$invalid" "$d_inv" "$m_inv"
bad=0
[ "$in_file" = "$written" ] || { echo "  MISMATCH: the file has $in_file lines, the writer says $written" >&2; bad=1; }
for v in "$d_read" "$m_read"; do [ "$v" = "$written" ] || bad=1; done
for v in "$d_req" "$m_req"; do [ "$v" = "$valid" ] || bad=1; done
for v in "$d_inv" "$m_inv"; do [ "$v" = "$invalid" ] || bad=1; done
secs() { if [ -n "$1" ]; then printf '%.1fs' "$1"; else echo never; fi; }
printf '  caught up after the writer stopped: dandan %s (in its store, which gets a commit every %s), mtail %s\n' \
	"$(secs "$dandan_catch")" "$INTERVAL" "$(secs "$mtail_catch")"
# Per-template counts, sorted, so templates compare whatever their names.
curl -fs "$dandan_url/api/v1/query" --data-urlencode 'query=sum by (path) (http_requests_total{job="bench"})' |
	python3 -c 'import json,sys
for s in json.load(sys.stdin)["data"]["result"]: print(s["value"][1])' | sort -n >"$work/dandan.tc"
curl -fs "$mtail_url/metrics" | awk '/^http_requests_total\{/ { match($0, /path="[^"]*"/); c[substr($0, RSTART, RLENGTH)] += $NF }
	END { for (p in c) print c[p] }' | sort -n >"$work/mtail.tc"
awk '$1 == "template" { print $NF }' "$work/truth.txt" | sort -n >"$work/truth.tc"
same() { if cmp -s "$1" "$work/truth.tc"; then echo "same per-template counts as the generator"; else echo "per-template counts DIFFER from the generator's"; fi; }
echo "  templates: generator $(wc -l <"$work/truth.tc"); dandan $(wc -l <"$work/dandan.tc"), $(same "$work/dandan.tc");" \
	"mtail $(wc -l <"$work/mtail.tc"), $(same "$work/mtail.tc")"
d_series=$(dandan_q 'count({job="bench"})')
m_series=$(curl -fs "$mtail_url/metrics" | grep -c '^http_request' || true)
echo "  series kept: dandan $d_series (requests, duration histogram, bytes, its own), mtail $m_series (requests, duration sum)"
if [ "$bad" = 1 ]; then
	echo "MISMATCH: the totals disagree (see above)" >&2
	exit 1
fi
echo "  totals agree"

# --- figures ----------------------------------------------------------------
echo
echo "writer: $(sed 's/^rate: //' "$work/rate.out")"
read -r w0 d0 dr0 m0 mr0 _ < <(head -1 "$samples")
read -r w1 d1 dr1 m1 mr1 _ < <(tail -1 "$samples")
win=$(calc "$w1 - $w0")
dcpu=$(calc "$d1 - $d0")
mcpu=$(calc "$m1 - $m0")
dmax=$(awk 'BEGIN { m = 0 } $3 > m { m = $3 } END { print m }' "$samples")
mmax=$(awk 'BEGIN { m = 0 } $5 > m { m = $5 } END { print m }' "$samples")
printf 'steady-state window: %.1fs to %.1fs after the writer started (%.1fs, %d samples), about %.0f lines\n' \
	"$w0" "$w1" "$win" "$(wc -l <"$samples")" "$(calc "$win * $written / ($t_end - $t0)")"
printf '  %-7s %8s %7s %14s %12s %12s\n' tool cpu_s cpu% rss_start_MiB rss_end_MiB rss_max_MiB
printf '  %-7s %8.2f %6.1f%% %14.1f %12.1f %12.1f\n' dandan "$dcpu" "$(calc "$dcpu * 100 / $win")" \
	"$(calc "$dr0 / 1024")" "$(calc "$dr1 / 1024")" "$(calc "$dmax / 1024")"
printf '  %-7s %8.2f %6.1f%% %14.1f %12.1f %12.1f\n' mtail "$mcpu" "$(calc "$mcpu * 100 / $win")" \
	"$(calc "$mr0 / 1024")" "$(calc "$mr1 / 1024")" "$(calc "$mmax / 1024")"
echo "  cpu% is of one core. When the writer stopped, dandan had ${d_lag:-?} bytes left to read; mtail had read $m_read_end of $written lines."
thirds() { # thirds COLUMN: % of a core in each third of the window (interpolated)
	awk -v c="$1" '
		function at(x, i) {
			for (i = 2; i < n; i++) if (t[i] >= x) break
			return v[i - 1] + (v[i] - v[i - 1]) * (x - t[i - 1]) / (t[i] - t[i - 1])
		}
		{ t[NR] = $1; v[NR] = $c; n = NR }
		END { w = (t[n] - t[1]) / 3; for (k = 0; k < 3; k++) printf "%.1f%% ", (at(t[1] + (k + 1) * w) - at(t[1] + k * w)) * 100 / w }' "$samples"
}
echo "  CPU by thirds of the window: dandan $(thirds 2)  mtail $(thirds 4)"
by_minute() { # by_minute COLUMN: RSS in MiB at the first sample of each minute, and the last
	awk -v c="$1" '{ m = int($1 / 60); if (!(m in seen)) { seen[m] = 1; printf "%.0f ", $c / 1024 } last = $c }
		END { printf "… %.0f\n", last / 1024 }' "$samples"
}
echo "  RSS MiB at each minute: dandan $(by_minute 3)"
echo "                           mtail $(by_minute 5)"
echo "  dandan's RSS, anonymous (heap) $(by_minute 6)"
echo "               mapped files      $(by_minute 7)"
ratio=$(calc "$mcpu / ($dcpu > 0 ? $dcpu : 0.000001)")
growth=$(calc "($dr1 - $dr0) * 100 / $dr0")
growth_max=$(calc "($dmax - $dr0) * 100 / $dr0")
# RSS saws with the Go GC and each commit, so single samples are noisy: also
# compare the mean of the window's first and last minute (third, if shorter).
read -r span rfirst rlast < <(awk '{ t[NR] = $1; r[NR] = $3; n = NR }
	END {
		m = (t[n] - t[1]) / 3; if (m > 60) m = 60
		for (i = 1; i <= n; i++) {
			if (t[i] <= t[1] + m) { a += r[i]; na++ }
			if (t[i] >= t[n] - m) { b += r[i]; nb++ }
		}
		printf "%.0f %.0f %.0f\n", m, a / na, b / nb
	}' "$samples")
growth_mean=$(calc "($rlast - $rfirst) * 100 / $rfirst")
echo
echo "targets:"
printf '  CPU, mtail over dandan          %7.1fx   [>= 10x]        %s\n' "$ratio" "$(verdict "$ratio" '>=' 10)"
printf '  dandan RSS, end vs start        %+7.1f%%   [within 10%%]   %s   (max vs start %+.1f%%)\n' "$growth" \
	"$(verdict "${growth#-}" '<=' 10)" "$growth_max"
printf '  dandan RSS, last vs first %ss  %+7.1f%%   [within 10%%]   %s   (means: %.1f, %.1f MiB)\n' "$span" "$growth_mean" \
	"$(verdict "${growth_mean#-}" '<=' 10)" "$(calc "$rfirst / 1024")" "$(calc "$rlast / 1024")"
if [ "$DURATION" -lt 1800 ]; then
	echo "  (the target's RSS is over 30 minutes: DURATION=1800 for the full run)"
fi

# --- profiles ---------------------------------------------------------------
if [ "$PROFILE" = 1 ]; then
	echo
	echo "dandan CPU profile, ${PROFILE_SECONDS}s from ${PROFILE_AT}s after the writer started, top 15 by flat CPU:"
	go tool pprof -top -nodecount=15 "$work/dandan" "$work/dandan.cpu.pprof" 2>/dev/null | sed 's/^/  /'
	echo
	echo "top 15 by cumulative CPU:"
	go tool pprof -top -cum -nodecount=15 "$work/dandan" "$work/dandan.cpu.pprof" 2>/dev/null | sed -n '/flat%/,$p' | sed 's/^/  /'
	if [ -s "$work/dandan.heap.pprof" ]; then
		echo
		echo "dandan heap at the window's end, top 10 by in-use bytes:"
		go tool pprof -top -sample_index=inuse_space -nodecount=10 "$work/dandan" "$work/dandan.heap.pprof" 2>/dev/null |
			sed -n '/flat%/,$p' | sed 's/^/  /'
	fi
	if [ "$KEEP" = 1 ]; then echo "  profiles: $work/dandan.cpu.pprof, $work/dandan.heap.pprof"; fi
fi

kill "$dpid" "$mpid" 2>/dev/null || true
echo
echo "total time: $(($(date +%s) - t_start))s; load average now $(cut -d' ' -f1-3 /proc/loadavg)"
