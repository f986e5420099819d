#!/usr/bin/env bash
# From a fresh clone to the first report: the install timed apart, then `make demo` with an empty cache.
#
# Usage: training/bench_fresh_clone.sh [WORKDIR]      (run from a checkout; WORKDIR default: a new temp folder)
#   FULL_INDEX=before training/bench_fresh_clone.sh   the old way: the full index first, then the questions
#   KEEP_BACKGROUND=1 ...                              leave the background index build running at the end
#
# Clones the current branch of this checkout (committed state) into WORKDIR/evidence-workbench, runs `make setup`
# (timed: the install), then `make demo` with WORKBENCH_CACHE_DIR=WORKDIR/cache (empty) and the data root of this
# checkout. Every line `make demo` prints is stamped with the seconds since it started, and the load average is
# printed before and after each part. pip's own download cache (~/.cache/pip) is not cleared, so a first install
# on a new machine takes longer than the figure printed here.
set -euo pipefail
src=$(git -C "$(dirname "$0")/.." rev-parse --show-toplevel)
branch=$(git -C "$src" rev-parse --abbrev-ref HEAD)
work=${1:-$(mktemp -d /tmp/fresh-clone-XXXX)}
data=${WORKBENCH_DATA_ROOT:-$(cd "$src/../shared/data" && pwd)}
mkdir -p "$work"
git clone -q --branch "$branch" "$src" "$work/evidence-workbench"
cd "$work/evidence-workbench"
echo "fresh clone of $branch ($(git rev-parse --short HEAD)) in $PWD; $(nproc) cores"
echo "load before install: $(cut -d' ' -f1-3 /proc/loadavg)"
t0=$(date +%s.%N)
make setup > "$work/install.log" 2>&1
t1=$(date +%s.%N)
printf 'install (make setup): %.0f s; load %s\n' "$(echo "$t1 - $t0" | bc)" "$(cut -d' ' -f1-3 /proc/loadavg)"
export WORKBENCH_DATA_ROOT="$data" WORKBENCH_CACHE_DIR="$work/cache" WORKBENCH_OUTPUTS_DIR="$work/outputs"
export WORKBENCH_REVIEWS_DIR="$work/reviews" FULL_INDEX=${FULL_INDEX:-background}
start=$(date +%s.%N)
make demo FULL_INDEX="$FULL_INDEX" 2>&1 | stdbuf -oL tr '\r' '\n' | grep --line-buffered -v '^Executing\|TCP without encryption\|^ingest\|^embed\|^$' \
  | while IFS= read -r line; do printf '[%6.1f s] %s\n' "$(echo "$(date +%s.%N) - $start" | bc)" "$line"; done
end=$(date +%s.%N)
printf 'make demo: %.0f s; load %s\n' "$(echo "$end - $start" | bc)" "$(cut -d' ' -f1-3 /proc/loadavg)"
for slug in "$work"/outputs/*/; do
  [ -f "$slug/report.html" ] && printf '%s: report.html written %.0f s after make demo started\n' "$(basename "$slug")" \
    "$(echo "$(stat -c %Y "$slug/report.html") - ${start%.*}" | bc)"
done
.venv/bin/workbench corpus list | grep arxiv-cs || true
# the full index build make demo left running in the background: stopped unless KEEP_BACKGROUND=1
pidfile=$(ls "$WORKBENCH_CACHE_DIR"/corpora/arxiv-cs.*.lock.pid 2>/dev/null | head -1 || true)
if [ -n "$pidfile" ] && [ "${KEEP_BACKGROUND:-0}" != 1 ]; then
  pid=$(cat "$pidfile"); kill "$pid" 2>/dev/null && echo "stopped the background index build (pid $pid; it resumes later)"
fi
