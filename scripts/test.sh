#!/usr/bin/env bash
# The whole test suite, on a fresh machine: install what is needed, then run every test
# (real daemon, real qemu-img / qemu-io / fio, the libraries we build).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
python3 -m pytest -q -p no:cacheprovider "$@" tests
# The snapshot and clone faces once more against a mainline Curve MDS (no local snapshots: the client
# takes its other path), so both Curve flavours run in CI.
CURVERBD_TEST_CURVE_RELEASE=2 exec python3 -m pytest -q -p no:cacheprovider "$@" \
    tests/test_snapshots_rules.py tests/test_snapshots_model.py tests/test_snapshots_diff.py \
    tests/test_snapshots_space.py tests/test_clone_flatten.py tests/test_cli_snapshots.py \
    tests/test_pymod_glance_store.py tests/test_cinder_driver.py tests/test_debian_bindings.py \
    tests/test_qemu_img.py tests/test_clone_qemu.py tests/test_trash_lifecycle.py tests/test_snapshot_kills.py \
    tests/test_pymod_rbd.py tests/test_snapshot_views.py
