#!/bin/sh
# Soak benchmark: the viewer rendering a plant fed through Debian's mosquitto at the highest
# rate the simulator and broker deliver here, for SECONDS (600 = 10 minutes). It prints the
# viewer's frame-time percentiles, its resident memory at every tenth of the run (it must level
# off once the trend histories are full; it says how full they are), and the messages the
# simulator published against those the viewer received (none may be lost).
#
# usage: tests/soak/run.sh [SECONDS] [LINES] [RATE]
#   TWINSCOPE_BIN  the binary (default: target/release/twinscope under $CARGO_TARGET_DIR or ./target)
#   VIEWER_ARGS    more viewer arguments (e.g. "--window-size 640x360": less CPU rendering)
#   SOAK_LOGS      a folder to keep the broker's, simulator's and viewer's logs in
#   DISPLAY        when set, the viewer opens its window there (a GPU's display); else under
#                  xvfb-run, or with VIEWER_ARGS="--offscreen" in no window (a GPU with no display)
#   defaults: 600 s, 357 lines (20,000 twins), 10 messages per twin per second (as many as are
#   delivered: the simulator publishes as fast as it can up to that)
# needs: mosquitto, xvfb-run and Mesa's lavapipe (or a GPU, with a display or --offscreen)
set -eu
seconds=${1:-600}
lines=${2:-357}
rate=${3:-10}
bin=${TWINSCOPE_BIN:-${CARGO_TARGET_DIR:-target}/release/twinscope}
[ -x "$bin" ] || { echo "no twinscope binary at $bin (cargo build --release, or set TWINSCOPE_BIN)" >&2; exit 1; }
work=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
printf 'listener %s 127.0.0.1\nallow_anonymous true\nmax_queued_messages 100000\n' "$port" > "$work/mosquitto.conf"
mosquitto -c "$work/mosquitto.conf" > "$work/mosquitto.log" 2>&1 &
broker=$!
keep_logs() { [ -n "${SOAK_LOGS:-}" ] && mkdir -p "$SOAK_LOGS" && cp "$work"/*.out "$work"/*.err "$work"/*.log "$SOAK_LOGS"/ 2>/dev/null; true; }
trap 'kill $broker 2>/dev/null; keep_logs; rm -rf "$work"' EXIT
sleep 1
url="mqtt://127.0.0.1:$port"
lavapipe=/usr/share/vulkan/icd.d/lvp_icd.x86_64.json
[ -z "${VK_DRIVER_FILES:-}" ] && [ -f "$lavapipe" ] && export VK_DRIVER_FILES=$lavapipe
# The viewer first (it must be subscribed before the first message), then the simulator.
case " ${VIEWER_ARGS:-} " in *" --offscreen "*) offscreen=yes ;; *) offscreen= ;; esac
on_display() { if [ -n "${DISPLAY:-}$offscreen" ]; then "$@"; else xvfb-run -a -s "-screen 0 1600x900x24" "$@"; fi; }
on_display "$bin" --broker "$url" --panels closed --dvr-minutes 0 --exit-after "$((seconds + 15))s" ${VIEWER_ARGS:-} > "$work/viewer.out" 2> "$work/viewer.err" &
viewer=$!
sleep 8
"$bin" sim --broker "$url" --lines "$lines" --rate "$rate" --faults-every 0 --for "${seconds}s" > "$work/sim.out" 2> "$work/sim.err"
wait $viewer
grep '^summary:\|^memory:\|^histories:' "$work/viewer.out"
published=$(sed -n 's/^sim: published \([0-9]*\) messages/\1/p' "$work/sim.out")
received=$(sed -n 's/^summary: .*, \([0-9]*\) messages (.*/\1/p' "$work/viewer.out")
echo "simulator published $published messages in ${seconds} s ($((published / seconds))/s); the viewer received $received; lost $((published > received ? published - received : 0))"
