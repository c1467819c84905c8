"""librbd's client-side encryption (rbd_encryption_format / rbd_encryption_load, LUKS1 and LUKS2)
through every face: QEMU's `encrypt.format=luks` over rbd (qemu-img create, qemu-io), Debian's
python3-rbd on our librbd.so.1 (the C entry points, exact errno), and our Python `rbd` module (the
core's data path); the bytes on the volume are a LUKS volume that cryptsetup and QEMU's own luks
driver accept."""
from __future__ import annotations

import os
import random
import shutil
import subprocess

import pytest

from capi_helpers import make_pool, read_image, run
from curverbd.core import Cluster

MiB = 1 << 20
PASS = "correct horse battery"
DEBIAN_PYTHON = "/usr/bin/python3"
# header + data offset per format (librbd's: the header rounded up to the object size, 4 MiB)
DATA_OFFSET = {"luks": 4 * MiB, "luks2": 16 * MiB}
RBD_FORMAT = {"luks": 0, "luks2": 1}
FAST = {"CURVERBD_LUKS_PBKDF2_ITERATIONS": "1000"}   # keyslots cheap to open (tests only)


@pytest.fixture(autouse=True)
def fast_kdf(monkeypatch):
    for k, v in FAST.items():
        monkeypatch.setenv(k, v)


def env_of(rbd_env: dict) -> dict:
    env = dict(rbd_env)
    env.update(FAST)
    return env


def secret(passphrase: str = PASS) -> list[str]:
    return ["--object", f"secret,id=sec0,data={passphrase}"]


def image_opts(fmt: str, image: str = "img") -> str:
    return f"driver=rbd,pool=pool,image={image},encrypt.format={fmt},encrypt.key-secret=sec0"


def qemu_img_create(env: dict, fmt: str, size: str = "64M", image: str = "img") -> None:
    run(["qemu-img", "create", "-f", "raw", *secret(), "-o", f"encrypt.format={fmt},encrypt.key-secret=sec0",
         f"rbd:pool/{image}", size], env)


def qemu_io(env: dict, fmt: str, *commands: str, passphrase: str = PASS, check: bool = True,
            image: str = "img") -> subprocess.CompletedProcess:
    args = ["qemu-io", *secret(passphrase), "--image-opts", image_opts(fmt, image)]
    for c in commands:
        args += ["-c", c]
    proc = run(args, env, check=check)
    if check:
        out = proc.stdout + proc.stderr
        assert "Pattern verification failed" not in out and "error" not in out.lower(), out
    return proc


def raw_size(image: str = "img") -> int:
    with Cluster(user="admin") as c:
        c.connect()
        with c.open_ioctx("pool") as io, io.open_image(image) as img:
            return img.size()


def export(path, image: str = "img", length: int | None = None) -> bytes:
    """The raw volume's bytes (what `rbd export` gives), also written to ``path``."""
    size = raw_size(image) if length is None else length
    data = read_image("pool", image, 0, size)
    with open(path, "wb") as f:
        f.write(data)
    return data


@pytest.mark.parametrize("fmt", ["luks", "luks2"])
def test_qemu_create_write_read(daemon, rbd_env, tmp_path, fmt):
    """qemu-img create with encrypt.format: the visible size is exactly what was asked for, the raw
    volume is that plus the header; qemu-io reads back what it wrote, the volume holds ciphertext."""
    env = env_of(rbd_env)
    make_pool(daemon, "pool")
    qemu_img_create(env, fmt)
    assert raw_size() == 64 * MiB + DATA_OFFSET[fmt]
    info = run(["qemu-img", "info", *secret(), "--image-opts", image_opts(fmt)], env).stdout
    assert "virtual size: 64 MiB (67108864 bytes)" in info, info
    qemu_io(env, fmt, "write -P 0x5a 0 1M", "write -P 0xa5 1536 3000", f"write -P 0x33 {64 * MiB - 4096} 4096")
    qemu_io(env, fmt, "read -P 0x5a 0 1536", "read -P 0xa5 1536 3000", "read -P 0x5a 4536 1044040",
            "read -P 0 1M 1M", f"read -P 0x33 {64 * MiB - 4096} 4096")
    raw = export(tmp_path / "vol.raw", length=DATA_OFFSET[fmt] + 2 * MiB)
    assert raw.startswith(b"LUKS\xba\xbe")
    area = raw[DATA_OFFSET[fmt]:DATA_OFFSET[fmt] + MiB]
    assert b"\x5a" * 64 not in area and area.count(0) < len(area) // 100   # ciphertext, not the pattern
    # a write beyond the visible end is refused as librbd does (the header is not reachable)
    proc = qemu_io(env, fmt, f"read 0 {64 * MiB + 512}", check=False)
    assert "read failed" in proc.stdout + proc.stderr


@pytest.mark.parametrize("fmt", ["luks", "luks2"])
def test_cryptsetup_accepts_the_volume(daemon, rbd_env, tmp_path, fmt):
    """cryptsetup reads the exported volume: header, keyslot (passphrase), volume key; the data
    decrypts with that key (LUKS1: QEMU's own luks driver reads the export)."""
    if not shutil.which("cryptsetup"):
        pytest.skip("cryptsetup is not installed (apt-get install cryptsetup-bin)")
    env = env_of(rbd_env)
    make_pool(daemon, "pool")
    qemu_img_create(env, fmt, "32M")
    qemu_io(env, fmt, "write -P 0x42 0 64k", "write -P 0x17 12345 777")
    vol = tmp_path / "vol.raw"
    export(vol)
    dump = run(["cryptsetup", "luksDump", str(vol)], env).stdout
    assert "Version:       \t" + ("1" if fmt == "luks" else "2") in dump, dump
    if fmt == "luks":
        assert "Cipher name:   \taes" in dump and "Cipher mode:   \txts-plain64" in dump
        assert "Payload offset:\t8192" in dump and "MK bits:       \t512" in dump
    else:
        assert "aes-xts-plain64" in dump and "PBKDF:      pbkdf2" in dump and "sector: 4096 [bytes]" in dump
        assert "offset: 16777216 [bytes]" in dump
    ok = run(["cryptsetup", "--test-passphrase", "open", str(vol), "--key-file", "-"], env, input=PASS)
    assert ok.returncode == 0
    bad = run(["cryptsetup", "--test-passphrase", "open", str(vol), "--key-file", "-"], env, check=False,
              input="wrong")
    assert bad.returncode != 0
    if fmt == "luks":   # an independent decryptor: QEMU's native LUKS1
        out = run(["qemu-io", *secret(), "--image-opts",
                   f"driver=luks,key-secret=sec0,file.driver=file,file.filename={vol}",
                   "-c", "read -P 0x42 0 12345", "-c", "read -P 0x17 12345 777",
                   "-c", "read -P 0x42 13122 52414"], env).stdout   # (never-written areas: garbage there)
        assert "Pattern verification failed" not in out, out
    key_out = run(["cryptsetup", "luksDump", "--dump-volume-key", "-q", str(vol), "--key-file", "-"], env,
                  input=PASS).stdout
    lines = key_out.split("MK dump:", 1)[1].splitlines()[:4]   # 4 lines of 16 hex bytes: 64 bytes
    key = bytes.fromhex("".join(lines).replace("\t", "").replace(" ", ""))
    assert len(key) == 64
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
    sector = 512 if fmt == "luks" else 4096
    with open(vol, "rb") as f:
        f.seek(DATA_OFFSET[fmt])
        first = f.read(sector)
    dec = Cipher(algorithms.AES(key), modes.XTS(bytes(16))).decryptor()
    plain = dec.update(first) + dec.finalize()
    assert plain == b"\x42" * sector


def debian_rbd(env: dict, tmp_path, body: str) -> subprocess.CompletedProcess:
    """Run ``body`` under Debian's python3-rbd (Pacific's binding, our librbd.so.1 under it)."""
    if not os.path.exists(DEBIAN_PYTHON):
        pytest.skip("no /usr/bin/python3")
    script = tmp_path / "debian_rbd.py"
    script.write_text("import errno, rados, rbd\n"
                      "cluster = rados.Rados(conffile='')\ncluster.connect()\n"
                      "ioctx = cluster.open_ioctx('pool')\n" + body)
    env = dict(env)
    env.pop("PYTHONPATH", None)
    probe = subprocess.run([DEBIAN_PYTHON, "-I", "-s", "-c", "import rados, rbd"], capture_output=True, env=env)
    if probe.returncode != 0:
        pytest.skip("Debian's python3-rados / python3-rbd are not installed")
    return run([DEBIAN_PYTHON, "-I", "-s", str(script)], env, cwd=str(tmp_path))


def test_c_face_errno_and_sizes(daemon, rbd_env, tmp_path):
    """Through the C entry points: wrong passphrase -EPERM and the image stays unloaded (raw size,
    raw bytes); a second load or a format when loaded -EEXIST; a LUKS1 load of a LUKS2 header and
    a load of a plain image -EINVAL; a format of a too small image -ENOSPC; sizes exact."""
    make_pool(daemon, "pool")
    out = debian_rbd(env_of(rbd_env), tmp_path, r'''
R = rbd.RBD()
R.create(ioctx, "a", 64 << 20)
def err(fn, *args):
    try:
        fn(*args)
    except rbd.Error as e:
        return e.errno
    return 0
with rbd.Image(ioctx, "a") as img:
    img.write(b"plain" * 1000, 0)
    print("plain-load", err(img.encryption_load, rbd.RBD_ENCRYPTION_FORMAT_LUKS1, "pw"))
    img.encryption_format(rbd.RBD_ENCRYPTION_FORMAT_LUKS2, "pw", rbd.RBD_ENCRYPTION_ALGORITHM_AES128)
    print("formatted", img.size(), img.stat()["size"])
    print("format-again", err(img.encryption_format, rbd.RBD_ENCRYPTION_FORMAT_LUKS1, "pw"))
    img.write(b"secret" * 1000, 100)
with rbd.Image(ioctx, "a") as img:
    print("wrong", err(img.encryption_load, rbd.RBD_ENCRYPTION_FORMAT_LUKS2, "nope"), img.size(),
          img.read(0, 4) == b"LUKS")
    print("wrong-version", err(img.encryption_load, rbd.RBD_ENCRYPTION_FORMAT_LUKS1, "pw"))
    img.encryption_load(rbd.RBD_ENCRYPTION_FORMAT_LUKS2, "pw")
    print("loaded", img.size(), img.read(100, 6000) == b"secret" * 1000, img.read(0, 100) == bytes(100))
    print("load-again", err(img.encryption_load, rbd.RBD_ENCRYPTION_FORMAT_LUKS2, "pw"))
    extents = []
    img.diff_iterate(0, img.size(), None, lambda o, l, e: extents.append((o, l, e)))
    print("diff", all(o + l <= img.size() for o, l, e in extents),
          any(o <= 100 < o + l and e for o, l, e in extents), extents[0][0] if extents else None)
    img.resize(32 << 20)
    print("resized", img.size())
R.create(ioctx, "small", 4 << 20)
with rbd.Image(ioctx, "small") as img:
    print("small", err(img.encryption_format, rbd.RBD_ENCRYPTION_FORMAT_LUKS1, "pw"), img.size())
''').stdout.splitlines()
    assert out == [
        "plain-load 22",
        f"formatted {48 * MiB} {48 * MiB}",
        "format-again 17",
        f"wrong 1 {64 * MiB} True",
        "wrong-version 22",
        f"loaded {48 * MiB} True True",
        "load-again 17",
        "diff True True 0",              # extents of the data area (the header's are not reported)
        f"resized {16 * MiB}",          # librbd's resize takes the raw size
        f"small 28 {4 * MiB}",
    ], out


def test_qemu_wrong_passphrase_fails(daemon, rbd_env):
    env = env_of(rbd_env)
    make_pool(daemon, "pool")
    qemu_img_create(env, "luks", "8M")
    proc = qemu_io(env, "luks", "read 0 512", passphrase="not it", check=False)
    assert proc.returncode != 0
    assert "Operation not permitted" in proc.stdout + proc.stderr


def test_qemu_unaligned_io_matches_a_model(daemon, rbd_env):
    """512-byte granular writes, zeroes and discards over an encrypted LUKS2 image (4 KiB sectors:
    every unaligned write is a read-modify-write of decrypted blocks)."""
    env = env_of(rbd_env)
    make_pool(daemon, "pool")
    qemu_img_create(env, "luks2", "32M")
    rng = random.Random(14)
    model = bytearray(256 * 512)
    commands = []
    for i in range(60):
        start = rng.randrange(0, 240) * 512
        length = rng.randrange(1, 16) * 512
        kind = rng.choice(["write", "write", "zero", "discard"])
        if kind == "write":
            pattern = i % 250 + 1
            commands.append(f"aio_write -P {pattern} {start} {length}")
            model[start:start + length] = bytes([pattern]) * length
        else:
            commands.append(f"aio_write -z {'-u ' if kind == 'discard' else ''}{start} {length}")
            model[start:start + length] = bytes(length)
        if i % 10 == 9:
            commands.append("aio_flush")
    qemu_io(env, "luks2", *commands, "aio_flush")
    with Cluster(user="admin") as c:
        c.connect()
        with c.open_ioctx("pool") as io, io.open_image("img") as img:
            img.encryption_load(1, PASS.encode())
            assert img.read(0, len(model)) == bytes(model)


def test_python_module_and_cross_face(daemon, rbd_env, tmp_path):
    """Our `rbd` module formats (core's Python data path) and QEMU (C engine) reads; QEMU writes and
    the module reads: the same bytes on disk from both faces."""
    from pymod_helpers import rados, rbd
    env = env_of(rbd_env)
    make_pool(daemon, "pool")
    conn = rados.Rados(rados_id="admin", conffile="")
    conn.connect()
    try:
        with conn.open_ioctx("pool") as io:
            rbd.RBD().create(io, "img", 24 * MiB)
            with rbd.Image(io, "img") as img:
                img.encryption_format(rbd.RBD_ENCRYPTION_FORMAT_LUKS1, PASS)
                assert img.size() == 20 * MiB
                img.write(b"\x61" * 5000, 1000)
                with pytest.raises(rbd.Error) as exc:
                    img.encryption_load(rbd.RBD_ENCRYPTION_FORMAT_LUKS1, PASS)
                assert exc.value.errno == 17
            qemu_io(env, "luks", "read -P 0 0 1000", "read -P 0x61 1000 5000", "read -P 0 6000 2192",
                    "write -P 0x62 8192 10000")
            with rbd.Image(io, "img") as img:
                with pytest.raises(rbd.PermissionError):
                    img.encryption_load(rbd.RBD_ENCRYPTION_FORMAT_LUKS1, "wrong")
                assert img.size() == 24 * MiB
                img.encryption_load(rbd.RBD_ENCRYPTION_FORMAT_LUKS1, PASS)
                assert img.read(0, 20000) == bytes(1000) + b"\x61" * 5000 + bytes(2192) + b"\x62" * 10000 + \
                    bytes(1808)
    finally:
        conn.shutdown()
    raw = read_image("pool", "img", 4 * MiB, MiB)
    assert b"\x61" * 32 not in raw and b"\x62" * 32 not in raw
