#!/usr/bin/env bash
# Build the one-folder app with PyInstaller, then prove the frozen build works:
#   1. `draem-inspect self-test` inside the frozen app (bundled model, demo line, simulated camera, producers);
#   2. a short GUI start under Xvfb: the window appears, judges frames (rows in its trace database), closes
#      cleanly on SIGTERM (exit code 0), and a screenshot is kept.
# Usage: packaging/build_and_test.sh [OUT_DIR]      (default: build/package). Needs: xvfb, xdotool, imagemagick.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=$(realpath -m "${1:-build/package}")
mkdir -p "$OUT"
export OMP_WAIT_POLICY=PASSIVE

t0=$(date +%s)
python -m PyInstaller app.spec --noconfirm --distpath "$OUT/dist" --workpath "$OUT/work" >"$OUT/build.log" 2>&1 \
  || { tail -30 "$OUT/build.log"; echo "build failed (log: $OUT/build.log)"; exit 1; }
t1=$(date +%s)
APP="$OUT/dist/draem-inspect"
echo "build: $((t1 - t0)) s, folder $(du -sh "$APP" | cut -f1)"

# Frozen start-up time: the CLI's help (imports torch and every command module).
s0=$(date +%s.%N); "$APP/draem-inspect" --help >/dev/null; s1=$(date +%s.%N)
echo "frozen start-up (--help): $(echo "$s1 - $s0" | bc) s"

export DRAEM_INSPECT_HOME="$OUT/home"
rm -rf "$DRAEM_INSPECT_HOME"
"$APP/draem-inspect" self-test --report "$OUT/self-test.json"

# Short GUI start under a virtual display.
Xvfb :97 -screen 0 1600x1000x24 >/dev/null 2>&1 & XVFB=$!
trap 'kill $XVFB 2>/dev/null || true' EXIT
export DISPLAY=:97 QT_QPA_PLATFORM=xcb
g0=$(date +%s.%N)
"$APP/draem-inspect" gui --source demo & GUI=$!
for _ in $(seq 1 120); do
  xdotool search --name "draem-inspect" >/dev/null 2>&1 && break
  sleep 0.5
done
g1=$(date +%s.%N)
xdotool search --name "draem-inspect" >/dev/null || { echo "GUI window did not appear"; exit 1; }
echo "GUI window after $(echo "$g1 - $g0" | bc) s"
sleep 20
import -window root "$OUT/frozen_gui.png"
kill -TERM "$GUI"   # the app closes its window the normal way on SIGTERM (no window manager here for Ctrl+Q)
code=0; wait "$GUI" || code=$?
rows=$(python3 - "$DRAEM_INSPECT_HOME/trace.sqlite" <<'PY'
import sqlite3, sys
print(sqlite3.connect(sys.argv[1]).execute("select count(*) from inspections").fetchone()[0])
PY
)
echo "GUI exit code $code, $rows inspections in its trace"
[ "$code" -eq 0 ] && [ "$rows" -gt 0 ] || { echo "GUI check failed"; exit 1; }
echo "frozen app OK: $OUT/self-test.json, $OUT/frozen_gui.png"
