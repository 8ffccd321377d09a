#!/usr/bin/env bash
# bench/logs.sh: `dandan logs parse` against mtail --one_shot and GoAccess
# (Debian packages, installed if missing) over the same generated
# media-format access log, in one run, on local files in a temp dir. First
# checks that the totals (lines, requests per status) agree with the
# generator's truth and with each other, then prints wall time, lines/s, CPU
# seconds and peak RSS of each tool, our ratios, and whether dandan's peak RSS
# stays flat from 10 k to 1 M distinct raw URLs and from 2 M to 20 M lines.
# dandan runs twice: as users run it (the default output, the seed's OpenTSDB
# lines; its figures are the ratios) and with --output prom (the largest).
#
# Usage: bench/logs.sh [--quick]
# Env (defaults full / --quick): LINES 2000000/200000, LINES_LARGE
# 20000000/2000000, URLS 300000/30000 (distinct raw paths), URLS_LOW 10000,
# URLS_HIGH 1000000/100000, RUNS 2/1, SEED 1, INVALID 0 (fraction of garbage
# lines), TIMEOUT 900 (s per run), TMPDIR, KEEP=1 keeps the work dir,
# DANDAN=path runs that binary instead of building ./cmd/dandan.
# Exits 1 on a mismatch or a failed run, 3 if dandan has no `logs parse`.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD

quick=0
case "${1:-}" in
"") ;;
--quick) quick=1 ;;
-h | --help)
	sed -n '2,/^set -e/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'
	exit 0
	;;
*)
	echo "usage: bench/logs.sh [--quick]" >&2
	exit 2
	;;
esac
if [ "$quick" = 1 ]; then
	: "${LINES:=200000}" "${LINES_LARGE:=2000000}" "${URLS:=30000}" "${URLS_HIGH:=100000}" "${RUNS:=1}"
fi
: "${LINES:=2000000}" "${LINES_LARGE:=20000000}" "${URLS:=300000}" "${URLS_LOW:=10000}"
: "${URLS_HIGH:=1000000}" "${RUNS:=2}" "${SEED:=1}" "${INVALID:=0}" "${TIMEOUT:=900}" "${KEEP:=0}"
t_start=$(date +%s)

# --- peers ------------------------------------------------------------------
need=()
command -v mtail >/dev/null || need+=(mtail)
command -v goaccess >/dev/null || need+=(goaccess)
[ -x /usr/bin/time ] || need+=(time)
command -v python3 >/dev/null || need+=(python3)
if [ ${#need[@]} -gt 0 ]; then
	sudo=""
	[ "$(id -u)" = 0 ] || sudo=sudo
	echo "installing ${need[*]} from Debian"
	$sudo apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}" >/dev/null
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/dandan-bench-logs.XXXXXX")
cleanup() {
	if [ "$KEEP" = 1 ]; then echo "kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM
mkdir -p "$work/mtail"

# The binary is copied into place, not linked there: run straight after the
# link (the Go linker writes through a shared mapping), the process maps
# more of the file per page fault, about 6-8 MiB more peak RSS here than
# the same bytes written by cp, or installed by a package manager (large
# folios in the page cache, it seems; dropping the caches evens them out).
if [ -n "${DANDAN:-}" ]; then
	cp "$DANDAN" "$work/dandan"
else
	go build -o "$work/dandan.build" ./cmd/dandan
	cp "$work/dandan.build" "$work/dandan"
	rm "$work/dandan.build"
fi
go build -o "$work/loggen" ./bench/loggen
have_dandan=1
if ! "$work/dandan" logs parse --help >/dev/null 2>&1; then
	have_dandan=0
	echo "NOTE: this dandan has no 'logs parse' yet: measuring the peers only, exit 3 at the end"
fi

echo "bench/logs.sh: $(date -u +%FT%TZ), $(nproc) cores, $(uname -r), load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "  dandan ${DANDAN:-$(git describe --always --dirty 2>/dev/null || echo '?')}, $(go version | cut -d' ' -f3)"
echo "  $(mtail --version 2>&1 | head -1 | cut -d' ' -f1-3), $(goaccess --version | head -1 | sed 's/ - / /; s/\.$//')"
if awk -v l="$(cut -d' ' -f1 /proc/loadavg)" -v n="$(nproc)" 'BEGIN { exit !(l > n / 2) }'; then
	echo "  WARNING: the machine is busy (load above half its cores): the figures will be low and noisy"
fi
echo "  LINES=$LINES LINES_LARGE=$LINES_LARGE URLS=$URLS URLS_LOW=$URLS_LOW URLS_HIGH=$URLS_HIGH RUNS=$RUNS SEED=$SEED INVALID=$INVALID"

# --- tools ------------------------------------------------------------------
# cmd_for TOOL LOG sets cmd to the command line that runs TOOL over LOG.
cmd_for() {
	case $1 in
	# dandan as users run it: the default output (OpenTSDB lines, the
	# seed's); dandan_prom with --output prom, the largest output (every
	# histogram bucket of every changed series, every second).
	dandan_prom) cmd=("$work/dandan" logs parse --format media-nginx --output prom "$2") ;;
	dandan*) cmd=("$work/dandan" logs parse --format media-nginx "$2") ;;
	mtail)
		# mtail opens its HTTP listener even in one-shot mode: keep it on an
		# ephemeral loopback port. Its glog files go to the work dir.
		cmd=(mtail --one_shot --one_shot_format=prometheus --progs "$repo/bench/mtail" --logs "$2"
			--log_dir "$work/mtail" --address 127.0.0.1 --port 0) ;;
	goaccess)
		# Batch mode: a JSON report to a file, no real-time server. -q drops
		# query strings as dandan does; every panel stays on.
		cmd=(env LC_ALL=C goaccess "$2" --no-global-config --no-progress -q
			--log-format='"%h" "%e" [%d:%t %^] "%r" %s %b %T "%R" "%u"'
			--date-format='%d/%b/%Y' --time-format='%H:%M:%S' -o "$work/goaccess.json") ;;
	esac
}

# measure NAME LOG OUT: one run of the tool NAME (dandan_* is dandan) over
# LOG, stdout to OUT, stderr to $work/NAME.stderr; appends
# "wall user sys maxrss_kib" to $work/NAME.times.
measure() {
	local name=$1 log=$2 out=$3 cmd
	cmd_for "$name" "$log"
	if ! timeout "$TIMEOUT" /usr/bin/time -f '%e %U %S %M' -o "$work/time.out" "${cmd[@]}" \
		</dev/null >"$out" 2>"$work/$name.stderr"; then
		echo "FAIL: $name over $log failed or took over ${TIMEOUT}s:" >&2
		tail -20 "$work/$name.stderr" >&2
		cat "$work/time.out" >&2 2>/dev/null || true
		exit 1
	fi
	tail -1 "$work/time.out" >>"$work/$name.times"
}

# best NAME: "wall cpu rss_kib runs", each the minimum over the runs.
best() {
	awk '{ c = $2 + $3
		if (NR == 1 || $1 < w) w = $1
		if (NR == 1 || c < cpu) cpu = c
		if (NR == 1 || $4 < r) r = $4 }
		END { printf "%.2f %.2f %d %d\n", w, cpu, r, NR }' "$work/$1.times"
}

gen() { # gen FILE LINES URLS
	"$work/loggen" -seed "$SEED" -invalid "$INVALID" -n "$2" -urls "$3" -o "$1" -truth "$1.truth"
}
calc() { awk "BEGIN { printf \"%.6f\", $1 }"; }
truth() { awk -v k="$2" '$1 == k { print $2 }' "$1"; }

# --- totals -----------------------------------------------------------------
# Each *_totals function prints "valid N", "invalid N" and "status CODE N".
dandan_totals() { # prom output, stderr summary
	awk '/^http_requests_total\{/ {
			i = index($0, "} "); split(substr($0, i + 2), f, " "); last[substr($0, 1, i)] = f[1]
		}
		END {
			for (k in last) {
				match(k, /status="[0-9]+"/); s = substr(k, RSTART + 8, RLENGTH - 9)
				c[s] += last[k]; t += last[k]
			}
			printf "valid %d\n", t
			for (s in c) printf "status %s %d\n", s, c[s]
		}' "$1"
	sed -n 's/^lines invalid: \([0-9]*\).*/invalid \1/p' "$2" | head -1
}
dandan_tsdb_totals() { # "STATUS COUNT" lines summed from the OpenTSDB output, stderr summary
	awk '{ printf "status %s %d\n", $1, $2; t += $2 } END { printf "valid %d\n", t }' "$1"
	sed -n 's/^lines invalid: \([0-9]*\).*/invalid \1/p' "$2" | head -1
}
mtail_totals() {
	awk '/^http_requests_total\{/ {
			match($0, /status="[0-9]+"/); s = substr($0, RSTART + 8, RLENGTH - 9)
			c[s] += $NF; t += $NF
		}
		/^log_lines_invalid_total/ { printf "invalid %d\n", $NF }
		END { printf "valid %d\n", t; for (s in c) printf "status %s %d\n", s, c[s] }' "$1"
}
goaccess_totals() {
	python3 - "$1" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
print("valid", d["general"]["valid_requests"])
print("invalid", d["general"]["failed_requests"])
for cls in d["status_codes"]["data"]:
    for item in cls.get("items", []):
        print("status", item["data"].split()[0], item["hits"]["count"])
EOF
}
# Per-template request counts, sorted, so templates can be compared whatever
# their names.
template_counts() { # prom FILE, "last" (dandan, timestamped) or "sum" (mtail)
	awk -v mode="$2" '/^http_requests_total\{/ {
			i = index($0, "} "); split(substr($0, i + 2), f, " ")
			if (mode == "last") last[substr($0, 1, i)] = f[1]; else last[substr($0, 1, i)] += f[1]
		}
		END {
			for (k in last) { match(k, /path="[^"]*"/); c[substr(k, RSTART + 6, RLENGTH - 7)] += last[k] }
			for (p in c) print c[p], p
		}' "$1" | sort -n
}

# --- 1. generate, check totals ----------------------------------------------
log=$work/access.log
t0=$(date +%s.%N)
gen "$log" "$LINES" "$URLS"
t1=$(date +%s.%N)
echo
printf 'generated %s lines (%s MiB, %s distinct raw paths, %s with query strings, %s templates) in %.1fs\n' \
	"$(truth "$log.truth" lines)" "$(($(stat -c %s "$log") >> 20))" "$(truth "$log.truth" distinct_paths)" \
	"$(truth "$log.truth" distinct_urls)" "$(truth "$log.truth" templates)" "$(calc "$t1 - $t0")"

tools=(mtail goaccess)
[ "$have_dandan" = 1 ] && tools=(dandan dandan_prom mtail goaccess)
# The peers' first timed run is also the one the check reads. dandan's
# outputs are large (OpenTSDB: a line per changed series per second;
# Prometheus: some 14 samples per line with the histogram), so the check
# gets its own untimed runs, summed or filtered as they are written, and
# every timed run sends its output to /dev/null.
check_run() { # check_run NAME FILTER...: NAME's output through FILTER to $work/NAME.out
	local name=$1
	shift
	cmd_for "$name" "$log"
	timeout "$TIMEOUT" "${cmd[@]}" </dev/null 2>"$work/$name.check.stderr" | "$@" >"$work/$name.out" ||
		{
			echo "FAIL: $name over $log failed or took over ${TIMEOUT}s:" >&2
			tail -20 "$work/$name.check.stderr" >&2
			exit 1
		}
}
if [ "$have_dandan" = 1 ]; then
	check_run dandan awk '$1 == "nginx.log.status" { for (i = 4; i <= NF; i++) if ($i ~ /^http_status=/) c[substr($i, 13)] += $3 }
		END { for (s in c) print s, c[s] }'
	check_run dandan_prom grep '^http_requests_total{'
fi
for t in "${tools[@]}"; do
	case $t in
	dandan*) measure "$t" "$log" /dev/null ;;
	*) measure "$t" "$log" "$work/$t.out" ;;
	esac
done
awk '$1 == "valid" || $1 == "invalid" || $1 == "status"' "$log.truth" | sort >"$work/truth.totals"
if [ "$have_dandan" = 1 ]; then
	dandan_tsdb_totals "$work/dandan.out" "$work/dandan.check.stderr" | sort >"$work/dandan.totals"
	dandan_totals "$work/dandan_prom.out" "$work/dandan_prom.check.stderr" | sort >"$work/dandan_prom.totals"
fi
mtail_totals "$work/mtail.out" | sort >"$work/mtail.totals"
goaccess_totals "$work/goaccess.json" | sort >"$work/goaccess.totals"

echo
echo "totals check (requests; truth is the generator's count):"
keys=$(cat "$work"/*.totals | awk '{ $NF = ""; sub(/ $/, ""); print }' | sort -u -k1,1r -k2,2n)
{
	printf '%-14s %10s' "" truth
	for t in "${tools[@]}"; do printf ' %10s' "$t"; done
	echo
	while read -r k; do
		printf '%-14s' "$k"
		for t in truth "${tools[@]}"; do
			v=$(awk -v k="$k" '{ v = $NF; $NF = ""; sub(/ $/, "") } $0 == k { print v }' "$work/$t.totals")
			printf ' %10s' "${v:-0}"
		done
		echo
	done <<<"$keys"
} | tee "$work/check.txt"
bad=$(sed 's/^\(valid\|invalid\) /\1 - /' "$work/check.txt" | awk '
	NR == 1 { for (i = 1; i <= NF; i++) name[i + 2] = $i; next }
	{ for (i = 4; i <= NF; i++) if ($i != $3) printf "%s %s: truth %s, %s %s\n", $1, $2, $3, name[i], $i }' | sed 's/ -:/:/')
if [ "$have_dandan" = 1 ]; then
	read_n=$(sed -n 's/^lines read: \([0-9]*\).*/\1/p' "$work/dandan_prom.check.stderr" | head -1)
	if [ "${read_n:-}" != "$(truth "$log.truth" lines)" ]; then
		bad+=$'\n'"dandan lines read: ${read_n:-none} (want $(truth "$log.truth" lines))"
	fi
fi
if [ -n "$bad" ]; then
	echo "MISMATCH: the tools disagree on:" >&2
	echo "$bad" | sed '/^$/d; s/^/  /' >&2
	exit 1
fi
echo "totals agree: $(truth "$log.truth" valid) requests, $(truth "$log.truth" invalid) invalid lines"

# Templates (informational: dandan's automatic collapse need not name or
# draw its templates as the generator does).
awk '$1 == "template" { print $NF }' "$log.truth" | sort -n >"$work/truth.tc"
template_counts "$work/mtail.out" sum >"$work/mtail.tc"
same() { if cmp -s <(cut -d' ' -f1 "$1") "$2"; then echo "same per-template counts as the truth"; else echo "per-template counts differ from the truth"; fi; }
echo "templates: truth $(wc -l <"$work/truth.tc"); mtail $(wc -l <"$work/mtail.tc"), $(same "$work/mtail.tc" "$work/truth.tc")"
if [ "$have_dandan" = 1 ]; then
	template_counts "$work/dandan_prom.out" last >"$work/dandan.tc"
	echo "           dandan $(wc -l <"$work/dandan.tc"), $(same "$work/dandan.tc" "$work/truth.tc");" \
		"its summary: $(sed -n 's/^paths: //p' "$work/dandan_prom.check.stderr" | head -1)"
fi

# --- 2. speed and memory ----------------------------------------------------
for ((i = 2; i <= RUNS; i++)); do
	for t in "${tools[@]}"; do
		measure "$t" "$log" /dev/null
	done
done
lines=$(truth "$log.truth" lines)
echo
echo "over $lines lines; each figure is the best (lowest) of $RUNS run(s):"
declare -A wall rss
printf '%-11s %8s %12s %8s %6s %10s\n' tool wall_s lines/s cpu_s cores rss_MiB
for t in "${tools[@]}"; do
	read -r w c r _ < <(best "$t")
	printf '%-11s %8.2f %12.0f %8.2f %6.2f %10.1f\n' "$t" "$w" "$(calc "$lines / $w")" "$c" \
		"$(calc "$c / $w")" "$(calc "$r / 1024")"
	wall[$t]=$w rss[$t]=$r
done
[ "$have_dandan" = 1 ] && echo "dandan's own rate, last run: $(sed -n 's/^rate: //p' "$work/dandan.stderr" | head -1)"

if [ "$have_dandan" = 0 ]; then
	echo
	echo "dandan logs parse missing: no ratios or flatness checks"
	echo "total time: $(($(date +%s) - t_start))s; load average now $(cut -d' ' -f1-3 /proc/loadavg)"
	exit 3
fi

verdict() { # verdict VALUE OP TARGET
	if awk -v v="$1" -v t="$3" -v op="$2" 'BEGIN { exit !((op == ">=" && v >= t) || (op == "<=" && v <= t)) }'; then
		echo ok
	else
		echo MISSED
	fi
}
ratio_m=$(calc "${wall[mtail]} / ${wall[dandan]}")
ratio_g=$(calc "${wall[goaccess]} / ${wall[dandan]}")
ratio_r=$(calc "${rss[dandan]} / ${rss[mtail]}")
echo
echo "ratios (target in brackets):"
printf '  lines/s vs mtail     %7.1fx  [>= 20x]   %s\n' "$ratio_m" "$(verdict "$ratio_m" '>=' 20)"
printf '  lines/s vs GoAccess  %7.1fx  [>= 80x]   %s\n' "$ratio_g" "$(verdict "$ratio_g" '>=' 80)"
printf '  peak RSS vs mtail    %7.2fx  [<= 2x]    %s\n' "$ratio_r" "$(verdict "$ratio_r" '<=' 2)"
printf '  with --output prom:  %.1fx mtail, %.1fx GoAccess, peak RSS %.2fx mtail\n' \
	"$(calc "${wall[mtail]} / ${wall[dandan_prom]}")" "$(calc "${wall[goaccess]} / ${wall[dandan_prom]}")" \
	"$(calc "${rss[dandan_prom]} / ${rss[mtail]}")"
rm -f "$log" "$work"/*.out "$work/goaccess.json"

# --- 3. flatness of dandan's peak RSS ---------------------------------------
flat() { # flat NAME LINES URLS: best run of dandan over a fresh file
	local f=$work/$1.log
	gen "$f" "$2" "$3"
	: >"$work/dandan_$1.times"
	for ((i = 1; i <= RUNS; i++)); do
		measure "dandan_$1" "$f" /dev/null
	done
	rm -f "$f"
}
change() { calc "($2 - $1) * 100 / $1"; }
echo
echo "dandan peak RSS flatness (best of $RUNS; target: within 10%):"
flat low "$LINES" "$URLS_LOW"
flat high "$LINES" "$URLS_HIGH"
read -r lw _ lr _ < <(best dandan_low)
read -r hw _ hr _ < <(best dandan_high)
d=$(change "$lr" "$hr")
printf '  %s lines, %6s vs %7s distinct raw paths: %7.1f vs %7.1f MiB  %+6.1f%%  %s\n' "$LINES" "$URLS_LOW" "$URLS_HIGH" \
	"$(calc "$lr / 1024")" "$(calc "$hr / 1024")" "$d" "$(verdict "${d#-}" '<=' 10)"
flat large "$LINES_LARGE" "$URLS"
read -r gw _ gr _ < <(best dandan_large)
d=$(change "${rss[dandan]}" "$gr")
printf '  %s vs %s lines, %s distinct raw paths: %7.1f vs %7.1f MiB  %+6.1f%%  %s\n' "$LINES" "$LINES_LARGE" "$URLS" \
	"$(calc "${rss[dandan]} / 1024")" "$(calc "$gr / 1024")" "$d" "$(verdict "${d#-}" '<=' 10)"
printf '  (dandan lines/s on those runs: %.0f, %.0f, %.0f)\n' "$(calc "$LINES / $lw")" \
	"$(calc "$LINES / $hw")" "$(calc "$LINES_LARGE / $gw")"
echo
echo "total time: $(($(date +%s) - t_start))s; load average now $(cut -d' ' -f1-3 /proc/loadavg)"
