#!/usr/bin/env bash
# Installs what curverbd needs on a fresh Debian 12 machine (idempotent): the real clients the
# tests drive (qemu-img/qemu-io/qemu-storage-daemon with the rbd block driver, fio), a C compiler,
# and the Python package itself with its test tools. libssl-dev: OpenSSL's aes-xts for encrypted images
# (shim_c/crypto.c); cryptsetup-bin: tests/test_encryption.py checks the LUKS headers with it.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
for pkg in qemu-utils qemu-block-extra qemu-system-common fio gcc tmux \
           libvirt-daemon-system libvirt-daemon-driver-storage-rbd qemu-system-x86 \
           linux-image-cloud-amd64 busybox-static python3-rbd python3-rados etcd-server librbd-dev \
           libssl-dev cryptsetup-bin; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
    SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
    # Debian's etcd-server enables and starts its own etcd service (TCP 2379) on install. curverbd-server
    # runs its own etcd on a unix socket, so a service this script just brought in is stopped and disabled;
    # an etcd-server that was already installed (perhaps a Curve cluster's etcd) is left alone.
    if [[ " ${need[*]} " == *" etcd-server "* ]]; then
        if [ -d /run/systemd/system ]; then
            $SUDO systemctl disable --now etcd.service >/dev/null 2>&1 || true
        elif [ -x /etc/init.d/etcd ]; then
            $SUDO /etc/init.d/etcd stop >/dev/null 2>&1 || true
            $SUDO update-rc.d etcd disable >/dev/null 2>&1 || true
        fi
    fi
fi

# The install builds librbd.so.1 / librados.so.2 into curverbd/lib (build_so.py is the build backend).
# No build isolation: the libraries must be compiled against the cffi the embedded interpreter will load.
pip=(python3 -m pip install -q --disable-pip-version-check)
"${pip[@]}" "setuptools>=65" wheel "cffi>=1.15"
"${pip[@]}" --no-build-isolation -e ".[test]"
# The daemon's C frame loop (the daemon also builds it on first use; without a compiler it serves in Python).
python3 -m curverbd.server.build_fastpath >/dev/null
