"""Fixtures and helpers for the libvirt and guest-boot tests: a curverbd daemon per module, a
private libvirtd with our libraries preloaded, a Debian kernel and a tiny busybox initramfs.

libvirtd runs as root (its qemu driver needs the privileged mode) inside a private mount
namespace (`unshare -m`) whose /etc/libvirt, /run/libvirt, /var/lib/libvirt, /var/cache/libvirt
and /var/log/libvirt are bind mounts of the test's directory, so the host's libvirt state is
never touched; its sockets are in the test's directory and virsh reaches them through
LIBVIRT_DEFAULT_URI."""
from __future__ import annotations

import glob
import gzip
import os
import re
import shutil
import socket
import subprocess
import tempfile
import time

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

from daemon import new_daemon, remove  # noqa: E402

VIRSH_TIMEOUT = 120   # seconds for one virsh call
BOOT_TIMEOUT = 240    # seconds for one guest boot under TCG (about 20 s when healthy)
LIBVIRT_DIRS = {"etc": "/etc/libvirt", "run": "/run/libvirt", "lib": "/var/lib/libvirt",
                "cache": "/var/cache/libvirt", "log": "/var/log/libvirt"}
# the guest's virtio block stack (modules in Debian's kernel); their dependencies come from modules.dep
GUEST_MODULES = ["kernel/drivers/virtio/virtio_pci.ko", "kernel/drivers/block/virtio_blk.ko"]
PATTERN_OFFSET = 1 << 20   # the guest writes the pattern at 1 MiB
PATTERN_FILL = 0xC3        # first half of the pattern: one byte value (qemu-io read -P checks it)
PATTERN_SIZE = 1 << 20


def need(*binaries: str) -> None:
    missing = [b for b in binaries if shutil.which(b) is None]
    if missing:
        pytest.skip(f"{', '.join(missing)} not installed (scripts/install-deps.sh installs them)")


@pytest.fixture(scope="module")
def vm_daemon():
    """A curverbd daemon shared by one test module (guests and libvirtd are slow to set up)."""
    d = new_daemon().start()
    mp = pytest.MonkeyPatch()
    mp.setenv("CURVERBD_SOCKET", d.socket)   # for the core calls the tests make
    yield d
    mp.undo()
    remove(d)


def client_env(daemon, libs: str, preload: bool = False) -> dict:
    """Environment for QEMU / qemu-io / the CLI: our libraries, the daemon's socket."""
    env = dict(os.environ)
    env.pop("LD_PRELOAD", None)
    env.pop("LD_LIBRARY_PATH", None)
    if preload:
        env["LD_PRELOAD"] = f"{libs}/librbd.so.1:{libs}/librados.so.2"
    else:
        env["LD_LIBRARY_PATH"] = libs
    env["PYTHONPATH"] = ROOT + os.pathsep + env.get("PYTHONPATH", "")
    env["CURVERBD_SOCKET"] = daemon.socket
    env["CURVERBD_LOG"] = os.path.join(daemon.base, "client.log")
    return env


# ---- guest: kernel, initramfs, pattern ----

def guest_kernel() -> tuple[str, str]:
    """(vmlinuz, modules dir) of the newest installed Debian kernel."""
    for vmlinuz in sorted(glob.glob("/boot/vmlinuz-*"), reverse=True):
        moddir = f"/lib/modules/{vmlinuz[len('/boot/vmlinuz-'):]}"
        if all(os.path.isfile(f"{moddir}/{m}") for m in GUEST_MODULES + ["modules.dep"]):
            return vmlinuz, moddir
    pytest.skip("no Debian kernel with virtio_blk.ko in /boot (install linux-image-cloud-amd64)")


def module_load_order(moddir: str) -> list[str]:
    """GUEST_MODULES and what they need, dependencies first (paths relative to moddir)."""
    deps = {}
    with open(f"{moddir}/modules.dep") as f:
        for line in f:
            mod, _, needs = line.partition(":")
            deps[mod] = needs.split()
    order: list[str] = []

    def visit(mod: str) -> None:
        for dep in deps.get(mod, []):
            visit(dep)
        if mod not in order:
            order.append(mod)
    for mod in GUEST_MODULES:
        visit(mod)
    return order


def make_pattern() -> bytes:
    """What the guest writes: half one byte value (for qemu-io -P), half pseudo-random."""
    half = PATTERN_SIZE // 2
    noise = bytes((i * 7919 + (i >> 8) * 31 + 17) & 0xFF for i in range(half))
    return bytes([PATTERN_FILL]) * half + noise


# The guest's /init: load virtio, then either write /pattern.bin to /dev/vda at 1 MiB and
# sync, or print the checksum of what is there; the console line is what the test reads.
INIT_SCRIPT = f"""#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
for m in $(cat /lib/order); do insmod /lib/$m; done
i=0; while [ ! -b /dev/vda ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i+1)); done
mode=$(sed -n 's/.*curverbd=\\([a-z]*\\).*/\\1/p' /proc/cmdline)
if [ "$mode" = write ]; then
  dd if=/pattern.bin of=/dev/vda bs=65536 seek={PATTERN_OFFSET // 65536} conv=fsync 2>/dev/null && sync && \\
    echo "CURVERBD-WROTE $(sha256sum /pattern.bin | cut -d' ' -f1)"
else
  echo "CURVERBD-SUM $(dd if=/dev/vda bs=65536 skip={PATTERN_OFFSET // 65536} count={PATTERN_SIZE // 65536} \\
    2>/dev/null | sha256sum | cut -d' ' -f1)"
fi
poweroff -f
"""


def _cpio_entry(name: str, mode: int, data: bytes = b"") -> bytes:
    """One entry of a "newc" cpio archive (the format the kernel unpacks as initramfs)."""
    fields = [0, mode, 0, 0, 1, 0, len(data), 0, 0, 0, 0, len(name) + 1, 0]
    head = b"070701" + b"".join(b"%08X" % f for f in fields) + name.encode() + b"\0"
    head += b"\0" * (-len(head) % 4)
    return head + data + b"\0" * (-len(data) % 4)


def build_initramfs(path: str, moddir: str, pattern: bytes) -> str:
    """A gzip'ed initramfs: static busybox, the virtio modules, /init and /pattern.bin."""
    busybox = shutil.which("busybox")
    with open(busybox, "rb") as f:
        bb = f.read()
    if b"GLIBC" in bb[:4096] or b"/lib64/ld-linux" in bb[:4096]:
        pytest.skip("busybox is not the static build (install busybox-static)")
    out = bytearray()
    for d in ("bin", "dev", "proc", "sys", "lib"):
        out += _cpio_entry(d, 0o040755)
    out += _cpio_entry("bin/busybox", 0o100755, bb)
    order = module_load_order(moddir)
    for m in order:
        with open(f"{moddir}/{m}", "rb") as f:
            out += _cpio_entry(f"lib/{os.path.basename(m)}", 0o100644, f.read())
    out += _cpio_entry("lib/order", 0o100644, " ".join(os.path.basename(m) for m in order).encode())
    out += _cpio_entry("init", 0o100755, INIT_SCRIPT.encode())
    out += _cpio_entry("pattern.bin", 0o100644, pattern)
    out += _cpio_entry("TRAILER!!!", 0)
    with gzip.open(path, "wb", compresslevel=1) as f:
        f.write(bytes(out))
    return path


@pytest.fixture(scope="module")
def guest(tmp_path_factory):
    """(vmlinuz, initramfs, pattern) for guest boots."""
    need("qemu-system-x86_64", "busybox")
    vmlinuz, moddir = guest_kernel()
    pattern = make_pattern()
    initrd = build_initramfs(str(tmp_path_factory.mktemp("guest") / "initrd.gz"), moddir, pattern)
    return vmlinuz, initrd, pattern


def console_value(text: str, tag: str) -> str | None:
    m = re.search(rf"{tag} ([0-9a-f]{{64}})", text)
    return m.group(1) if m else None


# ---- libvirtd ----

class Libvirtd:
    """A root libvirtd in a private mount namespace, our libraries preloaded."""

    def __init__(self, base: str, env: dict):
        self.base = base
        self.env = env
        self.proc: subprocess.Popen | None = None

    @property
    def uri(self) -> str:
        return f"qemu+unix:///system?socket={self.base}/sock/libvirt-sock"

    @property
    def log(self) -> str:
        return os.path.join(self.base, "libvirtd.log")

    def _write_config(self) -> None:
        for d in LIBVIRT_DIRS:
            os.makedirs(os.path.join(self.base, d), exist_ok=True)
        os.makedirs(os.path.join(self.base, "sock"), exist_ok=True)
        with open(os.path.join(self.base, "etc", "libvirtd.conf"), "w") as f:
            f.write(f'unix_sock_dir = "{self.base}/sock"\n'
                    'auth_unix_ro = "none"\nauth_unix_rw = "none"\n'
                    f'log_outputs = "3:file:{self.log}"\n')
        # QEMU as root (it must reach our libraries and the daemon's socket), no per-VM
        # namespace or security driver (not available in containers), console log to a file
        # without virtlogd.
        with open(os.path.join(self.base, "etc", "qemu.conf"), "w") as f:
            f.write('user = "root"\ngroup = "root"\nnamespaces = [ ]\nsecurity_driver = "none"\n'
                    'stdio_handler = "file"\ncgroup_controllers = [ ]\n')

    def start(self, timeout: float = 60.0) -> "Libvirtd":
        self._write_config()
        mounts = "".join(f"mkdir -p {target} && mount --bind {self.base}/{d} {target} && "
                         for d, target in LIBVIRT_DIRS.items())
        script = (f"{mounts}exec libvirtd --config {self.base}/etc/libvirtd.conf "
                  f"--pid-file {self.base}/libvirtd.pid")
        with open(os.path.join(self.base, "libvirtd.out"), "wb") as out:
            self.proc = subprocess.Popen(["unshare", "-m", "--propagation", "private", "sh", "-c", script],
                                         env=self.env, stdin=subprocess.DEVNULL, stdout=out,
                                         stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        sock = os.path.join(self.base, "sock", "libvirt-sock")
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"libvirtd exited with {self.proc.returncode}:\n{self.output()}")
            if os.path.exists(sock):
                try:
                    with socket.socket(socket.AF_UNIX) as s:
                        s.connect(sock)
                    return self
                except OSError:
                    pass
            time.sleep(0.1)
        raise RuntimeError(f"libvirtd did not listen on {sock} within {timeout}s:\n{self.output()}")

    def output(self) -> str:
        text = ""
        for name in ("libvirtd.out", "libvirtd.log"):
            try:
                with open(os.path.join(self.base, name), errors="replace") as f:
                    text += f.read()[-4000:]
            except FileNotFoundError:
                pass
        return text

    def virsh(self, *args: str, check: bool = True, timeout: float = VIRSH_TIMEOUT) -> subprocess.CompletedProcess:
        env = dict(os.environ)
        env.pop("LD_PRELOAD", None)
        env["LIBVIRT_DEFAULT_URI"] = self.uri
        proc = subprocess.run(["virsh", *args], env=env, capture_output=True, text=True, timeout=timeout)
        if check:
            assert proc.returncode == 0, (f"virsh {' '.join(args)} exited {proc.returncode}\n{proc.stdout}\n"
                                          f"{proc.stderr}\n--- libvirtd ---\n{self.output()}")
        return proc

    def stop(self) -> None:
        """Destroy the domains still running (QEMU outlives libvirtd), then stop libvirtd."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            running = self.virsh("list", "--name", check=False, timeout=30).stdout.split()
            for name in running:
                self.virsh("destroy", name, check=False, timeout=30)
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None


def can_unshare() -> bool:
    try:
        return subprocess.run(["unshare", "-m", "--propagation", "private", "true"],
                              capture_output=True, timeout=10).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


@pytest.fixture(scope="module")
def libvirtd(vm_daemon, capi_libs):
    """A private libvirtd (see the module docstring) for one test module."""
    need("libvirtd", "virsh", "unshare")
    if os.geteuid() != 0:
        pytest.skip("libvirtd's qemu driver runs privileged: needs root")
    if not can_unshare():
        pytest.skip("needs `unshare -m` (CAP_SYS_ADMIN) to give libvirtd a private state")
    if not os.path.exists("/usr/lib/x86_64-linux-gnu/libvirt/storage-backend/libvirt_storage_backend_rbd.so"):
        pytest.skip("libvirt-daemon-driver-storage-rbd not installed")
    base = tempfile.mkdtemp(prefix="crbd-lv-")
    lv = Libvirtd(base, client_env(vm_daemon, capi_libs, preload=True)).start()
    yield lv
    lv.stop()
    shutil.rmtree(base, ignore_errors=True)


__all__ = ["vm_daemon", "libvirtd", "guest", "client_env", "console_value", "make_pattern", "need",
           "Libvirtd", "BOOT_TIMEOUT", "PATTERN_OFFSET", "PATTERN_FILL", "PATTERN_SIZE"]
