#!/usr/bin/env bash
# The headset benchmark: what twinscope's own systems cost per frame in an XR session (sync:
# update batches into the store, binding, status onto entities; visuals: selection, looks,
# pointing, moving, guide and label; panels: the panel and the label laid out), against the
# headset's budget of 11.1 ms per frame at 90 Hz. Runs two sessions in Monado (null
# compositor, software Vulkan: the frame period is the software renderer's, not a headset's):
#   1. the demo plant, live from the embedded broker and simulator;
#   2. a 10,000-twin plant (312 lines), live from mosquitto fed by `twinscope sim` at one
#      message per twin per second (about 10,000 messages per second).
# In both the menu button selects the part in alarm, so the guide and label are drawn.
# Prints one `xr cost per frame` line per session.
#
# Usage: TWINSCOPE_BIN=target/release/twinscope tests/xr/frame-cost.sh ROOT [SECONDS]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
root="$1"; seconds="${2:-30}"
bin="${TWINSCOPE_BIN:?set TWINSCOPE_BIN to the twinscope binary}"
press="TWINSCOPE_XR_TEST_PRESS=menu-left@5s,menu-left@15s"

echo "== demo plant (64 twins), embedded broker and simulator, ${seconds} s"
"$here/run-with-monado.sh" "$root" "$repo" env "$press" twinscope --xr --exit-after "${seconds}s" 2>&1 | grep -E '^xr( cost|: states)' || true

echo "== 10,000-twin plant (312 lines), mosquitto and twinscope sim at 1 message/twin/s, ${seconds} s"
mkdir -p "$root/tmp/twinscope-big"
"$bin" gen-plant --lines 312 --out "$root/tmp/twinscope-big/plant.glb" --scene "$root/tmp/twinscope-big/plant.toml" > /dev/null
port=18839
/usr/sbin/mosquitto -p "$port" > /dev/null 2>&1 &
broker=$!
trap 'kill $broker $sim 2>/dev/null || true' EXIT
sleep 0.5
"$bin" sim --broker "mqtt://127.0.0.1:$port" --lines 312 --rate 1 --for "$((seconds + 60))s" > /dev/null 2>&1 &
sim=$!
"$here/run-with-monado.sh" "$root" "$repo" env "$press" twinscope --xr --scene /tmp/twinscope-big/plant.toml --broker "mqtt://127.0.0.1:$port" --exit-after "${seconds}s" 2>&1 | grep -E '^xr( cost|: states)|^summary' || true
