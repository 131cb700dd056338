#!/usr/bin/env bash
# Tangerine's load benchmark, in one command:
#
#   bench/run.sh                 # SQLite, peers (when ../shared/peers exists), scale run
#   bench/run.sh --postgres      # the same, and everything again on PostgreSQL
#   bench/run.sh --no-peers --no-scale --duration 5s    # a quick look
#
# Installs wrk (Debian) if it is missing, builds the release binaries
# (tangerine, bench-seed, bench-bare), then runs bench/bench.py, which prints
# the table, the ratios and the targets, and keeps raw results in
# target/bench/<time>/. Loads only 127.0.0.1, every run bounded in time.
set -euo pipefail
cd "$(dirname "$0")/.."

case " $* " in
  *" -h "* | *" --help "*) exec python3 bench/bench.py --help ;;
esac

if ! command -v wrk >/dev/null; then
  if [ "$(id -u)" = 0 ]; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk > /dev/null
  else
    echo "wrk is missing: sudo apt-get install -y wrk" >&2
    exit 1
  fi
fi
cargo build --release --locked -p tangerine -p tangerine-bench
exec python3 bench/bench.py "$@"
