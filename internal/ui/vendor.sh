#!/usr/bin/env bash
# vendor.sh re-fetches the vendored UI files in static/vendor from the npm
# registry and checks them against static/vendor/vendor.sum.
#
#   bash vendor.sh           fetch, verify, write the files (fails on any mismatch)
#   bash vendor.sh -update   fetch and write the files, rewrite vendor.sum
#
# To bump a package: change its version below, run with -update, update the
# names in assets.go, and review the vendor.sum diff. Nothing runs Node code:
# npm only downloads the published tarball (npm pack, scripts disabled).
set -euo pipefail

HTMX_VERSION=2.0.11  # npm htmx.org, newest 2.0.x
UPLOT_VERSION=1.6.32 # npm uplot

# vendor_pkg PACKAGE VERSION SRC:DST...
# copies each SRC (a path inside the package) to DST (a name in static/vendor).
files() {
	vendor_pkg htmx.org "$HTMX_VERSION" \
		"dist/htmx.min.js:htmx-$HTMX_VERSION.min.js" \
		"LICENSE:htmx.LICENSE"
	vendor_pkg uplot "$UPLOT_VERSION" \
		"dist/uPlot.iife.min.js:uplot-$UPLOT_VERSION.min.js" \
		"dist/uPlot.min.css:uplot-$UPLOT_VERSION.min.css" \
		"LICENSE:uplot.LICENSE"
}

update=false
case "${1-}" in
"") ;;
-update | --update) update=true ;;
*)
	echo "usage: bash vendor.sh [-update]" >&2
	exit 2
	;;
esac

cd "$(dirname "$0")"
dir=static/vendor
sum=$dir/vendor.sum

if command -v sha256sum >/dev/null 2>&1; then
	sha256() { sha256sum "$@"; }
else
	sha256() { shasum -a 256 "$@"; }
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
out=$tmp/out
mkdir "$out"

vendor_pkg() {
	local pkg=$1 version=$2 work=$tmp/pkg/$1
	shift 2
	mkdir -p "$work"
	echo "vendor.sh: npm pack $pkg@$version" >&2
	npm pack --silent --ignore-scripts --pack-destination "$work" "$pkg@$version" >/dev/null
	local tgz
	tgz=$(find "$work" -maxdepth 1 -name '*.tgz' -print)
	if [ -z "$tgz" ]; then
		echo "vendor.sh: npm pack $pkg@$version produced no tarball" >&2
		exit 1
	fi
	tar -xzf "$tgz" -C "$work"
	local pair src dst
	for pair in "$@"; do
		src=${pair%%:*}
		dst=${pair#*:}
		if [ ! -f "$work/package/$src" ]; then
			echo "vendor.sh: $pkg@$version has no $src" >&2
			exit 1
		fi
		cp "$work/package/$src" "$out/$dst"
	done
}

files

# The fresh vendor.sum, in sha256sum format, sorted by name.
(cd "$out" && LC_ALL=C ls | while IFS= read -r f; do sha256 "$f"; done) >"$tmp/vendor.sum"

if ! $update; then
	if [ ! -f "$sum" ]; then
		echo "vendor.sh: $sum is missing; run bash vendor.sh -update" >&2
		exit 1
	fi
	if ! diff -u "$sum" "$tmp/vendor.sum" >&2; then
		echo "vendor.sh: fetched files do not match $sum (diff above: - recorded, + fetched)" >&2
		echo "vendor.sh: if the version change is intended, run bash vendor.sh -update" >&2
		exit 1
	fi
fi

# Files in static/vendor that this script does not produce: stale versions.
stale=$(cd "$dir" 2>/dev/null && LC_ALL=C ls | while IFS= read -r f; do
	[ "$f" = vendor.sum ] || [ -e "$out/$f" ] || echo "$f"
done || true)
if [ -n "$stale" ]; then
	if $update; then
		for f in $stale; do
			echo "vendor.sh: removing $dir/$f" >&2
			rm -f "$dir/$f"
		done
	else
		echo "vendor.sh: unexpected files in $dir (not produced by vendor.sh):" $stale >&2
		exit 1
	fi
fi

mkdir -p "$dir"
cp "$out"/* "$dir"/
cp "$tmp/vendor.sum" "$sum"
if $update; then
	echo "vendor.sh: wrote $sum" >&2
fi
(cd "$dir" && sha256 -c --quiet vendor.sum)
