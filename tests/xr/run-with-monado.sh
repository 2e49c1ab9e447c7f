#!/usr/bin/env bash
# Runs a command inside the Monado root (tests/xr/monado-root.sh) with monado-service
# running beside it: the null compositor, simulated headset and controllers (Khronos simple
# controller profile), Mesa's software Vulkan. The repository is mounted at /repo (the
# command's working directory) and the twinscope binary given in TWINSCOPE_BIN is copied to
# /usr/local/bin/twinscope. Exits with the command's status; monado-service's log is kept in
# $MONADO_LOG when set.
#
# Usage: TWINSCOPE_BIN=… tests/xr/run-with-monado.sh ROOT REPO COMMAND [ARGS…]
set -euo pipefail
root="$1"; repo="$2"; shift 2
[ -f "$root/.twinscope-ready" ] || { echo "no Monado root at $root (run tests/xr/monado-root.sh)" >&2; exit 3; }
# One session at a time in a root: the binary is copied in, and two runtimes plus two
# software-rendered apps on a small machine would only slow each other past their timeouts.
exec 9>"$root/.run-lock"
flock 9
for fs in proc dev sys; do
    mountpoint -q "$root/$fs" || mount --bind "/$fs" "$root/$fs"
done
mkdir -p "$root/repo"
mountpoint -q "$root/repo" || mount --bind "$repo" "$root/repo"
cp "${TWINSCOPE_BIN:?}" "$root/usr/local/bin/twinscope"
runtime_dir="/tmp/xr-runtime-$$"
mkdir -p "$root$runtime_dir"
chmod 0700 "$root$runtime_dir"
env_vars=(
    XDG_RUNTIME_DIR="$runtime_dir"
    VK_DRIVER_FILES=/usr/share/vulkan/icd.d/lvp_icd.json
    XRT_COMPOSITOR_NULL=1 SIMULATED_ENABLE=1 SIMULATED_LEFT=simple SIMULATED_RIGHT=simple
    XRT_NO_STDIN=1 IPC_EXIT_ON_DISCONNECT=1
    XR_RUNTIME_JSON=/usr/share/openxr/1/openxr_monado.json
    HOME=/root PATH=/usr/local/bin:/usr/bin:/bin
)
log="${MONADO_LOG:-/dev/null}"
chroot "$root" env -i "${env_vars[@]}" monado-service > "$log" 2>&1 &
monado=$!
cleanup() {
    kill "$monado" 2>/dev/null || true
    wait "$monado" 2>/dev/null || true
    umount -l "$root/repo" 2>/dev/null || true
    rm -rf "$root$runtime_dir"
}
trap cleanup EXIT
# monado-service is ready when its socket exists (it can take a while on a busy machine).
for _ in $(seq 1 600); do
    [ -S "$root$runtime_dir/monado_comp_ipc" ] && break
    kill -0 "$monado" 2>/dev/null || { echo "monado-service exited before it was ready" >&2; exit 4; }
    sleep 0.1
done
[ -S "$root$runtime_dir/monado_comp_ipc" ] || { echo "monado-service was not ready within 60 s" >&2; exit 4; }
status=0
chroot "$root" env -i "${env_vars[@]}" RUST_LOG="${RUST_LOG:-}" sh -c 'cd /repo && exec "$@"' twinscope-xr "$@" || status=$?
exit $status
