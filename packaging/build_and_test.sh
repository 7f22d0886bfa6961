#!/usr/bin/env bash
# Build the one-folder app with PyInstaller, then prove the frozen build works:
#   1. size of the folder (the CPU build must stay <= 0.9 GB) and start-up time of the command line;
#   2. `draem-inspect self-test` inside the frozen app (bundled model, demo line, simulated camera, producers);
#   3. a short retrain: demo data, 3 training steps, evaluation of the new model;
#   4. a GUI start under Xvfb: time to the window and to the first judged frame (rows in its trace
#      database), a screenshot, and a clean close on SIGTERM (exit code 0).
# Every check runs; the script prints a summary and exits non-zero if any failed.
# Usage: packaging/build_and_test.sh [OUT_DIR] [--no-build]   (default: build/package). Needs: xvfb, xdotool,
# imagemagick, bc.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=$(realpath -m "${1:-build/package}")
BUILD=1; [ "${2:-}" = "--no-build" ] && BUILD=0
MAX_BYTES=900000000   # 0.9 GB, the limit for the CPU build
mkdir -p "$OUT"
export OMP_WAIT_POLICY=PASSIVE
APP="$OUT/dist/draem-inspect"
failed=()
now() { date +%s.%N; }
cpu_s() { awk -v hz="$(getconf CLK_TCK)" '{printf "%.2f", ($14 + $15) / hz}' "/proc/$1/stat"; }  # user+system CPU
secs() { printf "%.2f" "$(echo "$2 - $1" | bc)"; }

if [ "$BUILD" = 1 ]; then
  t0=$(now)
  python -m PyInstaller app.spec --noconfirm --distpath "$OUT/dist" --workpath "$OUT/work" >"$OUT/build.log" 2>&1 \
    || { tail -30 "$OUT/build.log"; echo "build failed (log: $OUT/build.log)"; exit 1; }
  echo "build: $(secs "$t0" "$(now)") s"
fi
bytes=$(du -sb "$APP" | cut -f1)
echo "folder: $bytes bytes ($(echo "scale=3; $bytes / 1000000000" | bc) GB), largest parts:"
du -sb "$APP"/_internal/* "$APP"/draem-inspect* | sort -rn | head -6 | awk '{printf "  %6.1f MB  %s\n", $1 / 1e6, $2}'
torch_kind=$(ls "$APP/_internal/torch/lib" | grep -q cudart && echo cuda || echo cpu)
if [ "$torch_kind" = cpu ] && [ "$bytes" -gt "$MAX_BYTES" ]; then failed+=("size > 0.9 GB"); fi

# Command-line start-up: --help imports torch and every command module.
TIMEFORMAT="%R s wall, %U s user + %S s system CPU"
echo "frozen start-up (--help): $({ time "$APP/draem-inspect" --help >/dev/null; } 2>&1)"
echo "frozen --version: $("$APP/draem-inspect" --version)"

export DRAEM_INSPECT_HOME="$OUT/home"
rm -rf "$DRAEM_INSPECT_HOME"
if "$APP/draem-inspect" self-test --report "$OUT/self-test.json"; then echo "self-test: passed"
else echo "self-test: FAILED (report $OUT/self-test.json)"; failed+=("self-test"); fi

# A short retrain in the frozen app: training loads parts of torch (dynamo via the optimiser) that inference never does.
r0=$(now); rm -rf "$OUT/retrain"
if "$APP/draem-inspect" demo-data --out "$OUT/retrain/data" --good 12 --defective 4 >/dev/null \
   && "$APP/draem-inspect" train "$OUT/retrain/data" --out "$OUT/retrain/model.safetensors" --preset tiny \
        --size 64x96 --steps 3 --device cpu >"$OUT/retrain/train.log" 2>&1 \
   && "$APP/draem-inspect" eval "$OUT/retrain/data" --model "$OUT/retrain/model.safetensors" \
        --json "$OUT/retrain/eval.json" --plots "$OUT/retrain/plots" >/dev/null; then
  echo "retrain (demo data, 3 steps, eval with plots): passed in $(secs "$r0" "$(now)") s"
else echo "retrain: FAILED (log $OUT/retrain/train.log)"; failed+=("retrain"); fi

# GUI start under a virtual display: time to the window, time to the first judged frame.
Xvfb :97 -screen 0 1600x1000x24 >/dev/null 2>&1 & XVFB=$!
trap 'kill $XVFB 2>/dev/null || true' EXIT
export DISPLAY=:97 QT_QPA_PLATFORM=xcb
for _ in $(seq 1 150); do xdotool getdisplaygeometry >/dev/null 2>&1 && break; sleep 0.2; done  # up within 30 s
TRACE="$DRAEM_INSPECT_HOME/trace.sqlite"
rows() { python3 -c "import sqlite3,sys
try: print(sqlite3.connect(sys.argv[1]).execute('select count(*) from inspections').fetchone()[0])
except Exception: print(0)" "$TRACE"; }
before=$(rows)
g0=$(now)
"$APP/draem-inspect" gui --source demo & GUI=$!
window=""; live=""
for _ in $(seq 1 600); do
  [ -z "$window" ] && xdotool search --name "draem-inspect" >/dev/null 2>&1 \
    && { window=$(secs "$g0" "$(now)"); window_cpu=$(cpu_s "$GUI"); }
  [ -n "$window" ] && [ "$(rows)" -gt "$before" ] && { live=$(secs "$g0" "$(now)"); break; }
  sleep 0.1
done
# On a shared machine the wall time depends on the other load: the app's own CPU time until its window shows is
# printed too (with the load average), which is what the start-up costs on an idle core.
echo "GUI: window after ${window:-never} s (${window_cpu:-?} s CPU time of the app by then; load average" \
  "$(cut -d' ' -f1 /proc/loadavg)), first judged frame in the trace after ${live:-never} s"
sleep 15
import -window root "$OUT/frozen_gui.png"
kill -TERM "$GUI"   # the app closes its window the normal way on SIGTERM (no window manager here for Ctrl+Q)
code=0; wait "$GUI" || code=$?
echo "GUI: exit code $code, $(($(rows) - before)) inspections in its trace"
if [ -z "$live" ] || [ "$code" -ne 0 ]; then failed+=("GUI"); fi
grep -q "draem-inspect $("$APP/draem-inspect" --version | cut -d' ' -f2)" "$DRAEM_INSPECT_HOME/logs/draem-inspect.log" \
  || failed+=("log file header")

if [ ${#failed[@]} -gt 0 ]; then echo "frozen app FAILED: ${failed[*]}"; exit 1; fi
echo "frozen app OK: $OUT/self-test.json, $OUT/frozen_gui.png"
