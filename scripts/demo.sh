#!/usr/bin/env bash
# The main job on the embedded default: start curverbd-server, create a pool and a volume,
# and drive it with the stock qemu-img / qemu-io loading our librbd.so.1 / librados.so.2.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh

work=$(mktemp -d /tmp/curverbd-demo.XXXXXX)
export CURVERBD_SOCKET="$work/nebd.sock"
curverbd-server --socket "$CURVERBD_SOCKET" --data-dir "$work/data" --daemonize --pid-file "$work/server.pid"
trap 'kill "$(cat "$work/server.pid")" 2>/dev/null || true' EXIT

set -x
ceph osd pool create demo
rbd create --size 1G demo/vol1
rbd info demo/vol1
export LD_LIBRARY_PATH="$PWD/curverbd/lib"     # built there by `pip install` (scripts/install-deps.sh)
qemu-img info rbd:demo/vol1
qemu-io -f raw -c "write -P 0xab 512 1M" -c "read -P 0xab 512 1M" -c "write -z 4096 8192" -c "read -P 0 4096 8192" rbd:demo/vol1
qemu-img resize -f raw rbd:demo/vol1 1536M
qemu-img info rbd:demo/vol1
rbd ls demo
{ set +x; } 2>/dev/null
echo "demo ok: daemon log in $work/data/curverbd-server.log"
