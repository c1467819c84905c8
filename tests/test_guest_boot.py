"""A real guest on curverbd: Debian's kernel under QEMU TCG with a busybox initramfs writes a
pattern through virtio-blk into an rbd image, the host reads it back (qemu-io, rbd export),
and a second boot reads it from inside the guest. Plain QEMU (-drive, then -blockdev with an
iothread) and a libvirt domain with an rbd network disk."""
from __future__ import annotations

import hashlib
import os
import subprocess
import time

import pytest

from capi_helpers import run
from curverbd.core import Cluster
from vm_helpers import (BOOT_TIMEOUT, PATTERN_FILL, PATTERN_OFFSET, PATTERN_SIZE, ROOT,  # noqa: F401
                        client_env, console_value, guest, libvirtd, vm_daemon)

POOL = "vms"
MiB = 1 << 20


@pytest.fixture(scope="module")
def pool(vm_daemon):
    with Cluster() as c:
        c.connect()
        c.create_pool(POOL)
    return POOL


def make_image(name: str, size: int = 64 * MiB) -> None:
    with Cluster() as c:
        c.connect()
        with c.open_ioctx(POOL) as io:
            io.create_image(name, size)


def boot(env: dict, guest, mode: str, disk_args: list[str]) -> str:
    """Boot the guest once (mode "write" or "read"); the console text. A guest that hangs is
    killed at BOOT_TIMEOUT and fails the test."""
    vmlinuz, initrd, _ = guest
    cmd = ["qemu-system-x86_64", "-accel", "tcg", "-m", "256", "-nographic", "-no-reboot",
           "-kernel", vmlinuz, "-initrd", initrd,
           "-append", f"console=ttyS0 panic=-1 quiet curverbd={mode}", *disk_args]
    try:
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, errors="replace",
                              timeout=BOOT_TIMEOUT, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired as e:
        pytest.fail(f"guest did not power off within {BOOT_TIMEOUT}s: {e.stdout!r}")
    assert proc.returncode == 0, f"{cmd} exited {proc.returncode}\n{proc.stdout[-3000:]}\n{proc.stderr}"
    return proc.stdout


def check_from_host(env: dict, image: str, pattern: bytes, tmp_path) -> None:
    """The pattern is in the image for qemu-io (through our librbd) and for `rbd export`."""
    half = PATTERN_SIZE // 2
    out = run(["qemu-io", "-f", "raw", "-c", f"read -P {PATTERN_FILL:#x} {PATTERN_OFFSET} {half}",
               f"rbd:{POOL}/{image}"], env).stdout
    assert f"read {half}/{half} bytes at offset {PATTERN_OFFSET}" in out, out
    bad = run(["qemu-io", "-f", "raw", "-c", f"read -P 0x00 {PATTERN_OFFSET} {half}",
               f"rbd:{POOL}/{image}"], env, check=False).stdout
    assert "Pattern verification failed" in bad, bad   # the check above can fail
    export = tmp_path / f"{image}.raw"
    run(["python3", "-m", "curverbd.cli.rbd", "export", f"{POOL}/{image}", str(export)], env)
    data = export.read_bytes()
    assert len(data) == 64 * MiB
    assert data[PATTERN_OFFSET:PATTERN_OFFSET + PATTERN_SIZE] == pattern
    assert data[:PATTERN_OFFSET] == bytes(PATTERN_OFFSET)   # nothing else was written


def test_guest_writes_and_reads_through_drive(pool, vm_daemon, capi_libs, guest, tmp_path):
    pattern = guest[2]
    want = hashlib.sha256(pattern).hexdigest()
    make_image("boot-drive")
    env = client_env(vm_daemon, capi_libs)
    drive = ["-drive", f"file=rbd:{POOL}/boot-drive,format=raw,if=virtio"]
    console = boot(env, guest, "write", drive)
    assert console_value(console, "CURVERBD-WROTE") == want, console[-3000:]
    check_from_host(env, "boot-drive", pattern, tmp_path)
    console = boot(env, guest, "read", drive)
    assert console_value(console, "CURVERBD-SUM") == want, console[-3000:]


def test_guest_writes_and_reads_through_blockdev_with_iothread(pool, vm_daemon, capi_libs, guest, tmp_path):
    pattern = guest[2]
    want = hashlib.sha256(pattern).hexdigest()
    make_image("boot-blockdev")
    env = client_env(vm_daemon, capi_libs, preload=True)
    disk = ["-object", "iothread,id=io0",
            "-blockdev", f"driver=rbd,node-name=disk0,pool={POOL},image=boot-blockdev,cache.direct=on",
            "-device", "virtio-blk-pci,drive=disk0,iothread=io0"]
    console = boot(env, guest, "write", disk)
    assert console_value(console, "CURVERBD-WROTE") == want, console[-3000:]
    check_from_host(env, "boot-blockdev", pattern, tmp_path)
    console = boot(env, guest, "read", disk)
    assert console_value(console, "CURVERBD-SUM") == want, console[-3000:]


DOMAIN = "crbd-guest"


def domain_xml(guest, console_log: str, image: str, mode: str, vm_daemon) -> str:
    """A transient domain: direct kernel boot, an rbd network disk, the serial console in a file.
    LD_PRELOAD reaches QEMU from libvirtd's environment; the daemon's socket (and the checkout,
    for a tree that is not pip-installed) are passed with <qemu:env> (a deployment would use the
    default socket or `curverbd_socket` in ceph.conf)."""
    vmlinuz, initrd, _ = guest
    return f"""<domain type='qemu' xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'>
  <name>{DOMAIN}</name>
  <memory unit='MiB'>256</memory>
  <vcpu>1</vcpu>
  <os>
    <type arch='x86_64' machine='pc'>hvm</type>
    <kernel>{vmlinuz}</kernel>
    <initrd>{initrd}</initrd>
    <cmdline>console=ttyS0 panic=-1 quiet curverbd={mode}</cmdline>
  </os>
  <features><acpi/></features>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>destroy</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
    <disk type='network' device='disk'>
      <driver name='qemu' type='raw' cache='none'/>
      <source protocol='rbd' name='{POOL}/{image}'>
        <host name='localhost'/>
      </source>
      <target dev='vda' bus='virtio'/>
    </disk>
    <serial type='file'>
      <source path='{console_log}'/>
    </serial>
    <memballoon model='none'/>
  </devices>
  <qemu:commandline>
    <qemu:env name='CURVERBD_SOCKET' value='{vm_daemon.socket}'/>
    <qemu:env name='PYTHONPATH' value='{ROOT}'/>
    <qemu:env name='CURVERBD_LOG' value='{os.path.join(vm_daemon.base, "client.log")}'/>
  </qemu:commandline>
</domain>
"""


def run_domain(libvirtd, xml_path: str) -> None:
    """`virsh create` and wait until the guest powers off (the transient domain is gone)."""
    libvirtd.virsh("create", xml_path)
    deadline = time.monotonic() + BOOT_TIMEOUT
    while time.monotonic() < deadline:
        if libvirtd.virsh("domstate", DOMAIN, check=False).returncode != 0:
            return
        time.sleep(1)
    libvirtd.virsh("destroy", DOMAIN, check=False)
    pytest.fail(f"domain {DOMAIN} did not power off within {BOOT_TIMEOUT}s")


def test_libvirt_domain_with_rbd_network_disk(pool, vm_daemon, capi_libs, guest, libvirtd, tmp_path):
    pattern = guest[2]
    want = hashlib.sha256(pattern).hexdigest()
    make_image("boot-libvirt")
    for mode, tag in (("write", "CURVERBD-WROTE"), ("read", "CURVERBD-SUM")):
        console_log = str(tmp_path / f"console-{mode}.log")
        xml = tmp_path / f"domain-{mode}.xml"
        xml.write_text(domain_xml(guest, console_log, "boot-libvirt", mode, vm_daemon))
        run_domain(libvirtd, str(xml))
        with open(console_log, errors="replace") as f:
            console = f.read()
        assert console_value(console, tag) == want, console[-3000:]
        if mode == "write":
            check_from_host(client_env(vm_daemon, capi_libs), "boot-libvirt", pattern, tmp_path)
