#!/usr/bin/env bash
# Installs what dandan's tests run for real: redis, PostgreSQL, nginx, Apache, Prometheus,
# headless Chromium (and a Korean font for its screenshots). On Debian or
# Ubuntu it uses apt-get (as root, or through sudo); elsewhere it names
# what to install and fails.
set -euo pipefail

need=()
have() { command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ]; }
have redis-server || need+=(redis-server)
have redis-cli || need+=(redis-tools)
have nginx || need+=(nginx)
have apache2 || [ -x /usr/sbin/apache2 ] || need+=(apache2)
have chromium || need+=(chromium)
have prometheus || need+=(prometheus)
have pdftoppm || need+=(poppler-utils)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || have initdb || need+=(postgresql)
[ -d /usr/share/fonts/truetype/nanum ] || need+=(fonts-nanum)

[ ${#need[@]} -eq 0 ] && exit 0

if ! command -v apt-get >/dev/null 2>&1; then
  echo "tests need these Debian packages (or your system's equivalents): ${need[*]}" >&2
  exit 1
fi
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then sudo="sudo"; else
    echo "tests need: apt-get install -y ${need[*]} (run as root)" >&2
    exit 1
  fi
fi
echo "installing test dependencies: ${need[*]}" >&2
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
