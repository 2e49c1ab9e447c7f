#!/usr/bin/env bash
# Makes (once) a Debian trixie root file system holding Monado, the OpenXR runtime the headset
# test runs against: monado-service with its null compositor and simulated devices, on Mesa's
# software Vulkan. Debian 12 has no Monado, and Monado's client library is loaded into the
# app's process and needs trixie's glibc, so the app runs inside this root too (a binary built
# on Debian 12 runs there unchanged). Prints the root's path.
#
# Usage: tests/xr/monado-root.sh [DIR]   (default: $HOME/.cache/twinscope/monado-trixie)
set -euo pipefail
root="${1:-$HOME/.cache/twinscope/monado-trixie}"
mirror="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
if [ -f "$root/.twinscope-ready" ]; then
    echo "$root"
    exit 0
fi
command -v debootstrap >/dev/null || {
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >&2
}
rm -rf "$root"
mkdir -p "$root"
debootstrap --variant=minbase trixie "$root" "$mirror" >&2
mount_all() {
    for fs in proc dev sys; do
        mountpoint -q "$root/$fs" || mount --bind "/$fs" "$root/$fs"
    done
}
unmount_all() {
    for fs in sys dev proc; do
        umount -l "$root/$fs" 2>/dev/null || true
    done
}
mount_all
trap unmount_all EXIT
chroot "$root" apt-get update -qq >&2
# The runtime, its loader (the unversioned libopenxr_loader.so comes with -dev), software
# Vulkan, and the libraries the twinscope binary links or loads.
chroot "$root" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    monado-service libopenxr1-monado libopenxr-loader1 libopenxr-dev \
    mesa-vulkan-drivers libvulkan1 libx11-6 libx11-xcb1 libxcursor1 libxrandr2 libxi6 \
    libxkbcommon0 libxkbcommon-x11-0 libwayland-client0 libwayland-egl1 libegl1 libgl1 \
    libgcc-s1 ca-certificates >&2
touch "$root/.twinscope-ready"
echo "$root"
