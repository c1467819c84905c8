#!/usr/bin/env bash
# The whole test suite, on a fresh machine: install what is needed, then run every test
# (real daemon, real qemu-img / qemu-io / fio, the libraries we build).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
exec python3 -m pytest -q -p no:cacheprovider "$@" tests
