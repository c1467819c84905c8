"""librbd's client-side encryption (rbd_encryption_format / rbd_encryption_load): LUKS1 and LUKS2.

The header is a real LUKS header at the start of the raw image (cryptsetup and QEMU read it);
the data area starts at ``data_offset`` and is encrypted sector by sector with aes-xts-plain64.
Written from the LUKS1 on-disk format specification and the LUKS2 format description
(cryptsetup's docs); the field offsets, constants and the JSON layout are those of the spec.

What ``format`` writes (librbd's choices, see src/librbd/crypto/luks/FormatRequest.cc):
- cipher ``aes``, mode ``xts-plain64``; AES128 -> a 32-byte XTS key, AES256 -> 64 bytes;
- one keyslot (slot 0), PBKDF2-SHA256 (also in LUKS2, so no argon2 is needed to open it),
  the volume key split by the anti-forensic splitter into 4000 stripes;
- sector size 512 for LUKS1, 4096 for LUKS2;
- the data offset aligned to the image's object size like librbd (it passes the object size to
  cryptsetup as the data alignment): LUKS1 needs ~2 MiB of header and keyslots, so it is the
  object size (4 MiB by default); LUKS2 keeps cryptsetup's default 16 MiB header (32 KiB of two
  metadata copies + the keyslots area), rounded up to the object size. Both are multiples of
  Curve's 4 KiB block, so the data area stays block aligned.

What ``load`` accepts: any LUKS1 / LUKS2 header whose data segment is aes-xts-plain64 (others:
EOPNOTSUPP), PBKDF2 keyslots with any hashlib hash, and argon2i/argon2id keyslots when the
``argon2`` (argon2-cffi) package is installed (else EOPNOTSUPP naming it, if no other keyslot
opens). Errors, as librbd's: not LUKS, or not the format asked for -> EINVAL; no keyslot opens
with the passphrase -> EPERM; data offset beyond the image -> EINVAL.

The IV of a data sector is its byte offset in the data area / 512 (plain64, little endian), also
for 4096-byte sectors: cryptsetup's LUKS2 does not use dm-crypt's iv_large_sectors, and librbd's
BlockCrypto counts in 512-byte units the same way. An all-zero raw sector reads as zeros (never
written, or discarded), as librbd reads an object that does not exist.
"""
from __future__ import annotations

import base64
import errno
import hashlib
import hmac
import json
import os
import struct
import uuid as uuid_mod
from dataclasses import dataclass, field

from ..errors import Error

MAGIC1 = b"LUKS\xba\xbe"
MAGIC2 = b"SKUL\xba\xbe"            # the LUKS2 secondary header
FORMAT_LUKS1 = 0                    # RBD_ENCRYPTION_FORMAT_LUKS1
FORMAT_LUKS2 = 1                    # RBD_ENCRYPTION_FORMAT_LUKS2
FORMAT_LUKS = 2                     # RBD_ENCRYPTION_FORMAT_LUKS (Quincy: either version, load only)
AES128, AES256 = 0, 1               # RBD_ENCRYPTION_ALGORITHM_*
KEY_BYTES = {AES128: 32, AES256: 64}
STRIPES = 4000
SECTOR = 512
LUKS2_SECTOR = 4096
CIPHER, MODE = "aes", "xts-plain64"
HASH = "sha256"
LUKS1_SLOTS = 8
SLOT_ACTIVE, SLOT_INACTIVE = 0x00AC71F3, 0x0000DEAD
LUKS1_HEADER = struct.Struct(">6sH32s32s32sII20s32sI40s")   # 208 bytes, then 8 keyslots
LUKS1_SLOT = struct.Struct(">II32sII")                        # 48 bytes each
LUKS1_DIGEST = 20
KEYSLOT_ALIGN = 4096
LUKS2_HDR_SIZE = 16384              # binary header + JSON area, each of the two copies
LUKS2_DEFAULT_HEADER = 16 << 20     # cryptsetup's default LUKS2 header (metadata + keyslots)
LUKS2_BIN = 4096
MAX_HEADER = 136 << 20              # LUKS2: 2 x 4 MiB metadata + 128 MiB keyslots (cryptsetup's bound)
# PBKDF2 iterations of a new keyslot (cryptsetup benchmarks ~2 s instead; this is OWASP's 2023
# figure for PBKDF2-SHA256). CURVERBD_LUKS_PBKDF2_ITERATIONS overrides it (>= 1000, tests use it).
KEYSLOT_ITERATIONS = 600_000
DIGEST_ITERATIONS_MIN = 1000


def _iterations() -> int:
    value = os.environ.get("CURVERBD_LUKS_PBKDF2_ITERATIONS")
    if not value:
        return KEYSLOT_ITERATIONS
    try:
        return max(DIGEST_ITERATIONS_MIN, int(value))
    except ValueError:
        raise Error(errno.EINVAL, f"CURVERBD_LUKS_PBKDF2_ITERATIONS={value!r} is not a number") from None


def _round_up(n: int, align: int) -> int:
    return (n + align - 1) // align * align


def _xts(key: bytes, tweak_sector: int, data, encrypt: bool) -> bytes:
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
    cipher = Cipher(algorithms.AES(key), modes.XTS(tweak_sector.to_bytes(16, "little")))
    ctx = cipher.encryptor() if encrypt else cipher.decryptor()
    return ctx.update(bytes(data)) + ctx.finalize()


def _crypt_sectors(key: bytes, data, sector_size: int, first_offset: int, encrypt: bool) -> bytearray:
    """aes-xts-plain64 over ``data`` (whole sectors) at byte ``first_offset`` of its area (keyslot
    material here; the image's data is the C engine's: shim_c/crypto.c)."""
    view = memoryview(data)
    if len(view) % sector_size or first_offset % sector_size:
        raise Error(errno.EINVAL, f"encryption of {len(view)} bytes at {first_offset}: not whole "
                                  f"{sector_size}-byte sectors")
    out = bytearray(len(view))
    for pos in range(0, len(view), sector_size):
        out[pos:pos + sector_size] = _xts(key, (first_offset + pos) // SECTOR, view[pos:pos + sector_size], encrypt)
    return out


# --- anti-forensic splitter (LUKS1 spec, section "AF-Splitter") ---------------------------------
def _xor(a: bytes, b: bytes) -> bytes:
    return (int.from_bytes(a, "big") ^ int.from_bytes(b, "big")).to_bytes(len(a), "big")


def _diffuse(data: bytes, hash_name: str) -> bytes:
    size = hashlib.new(hash_name).digest_size
    out = bytearray()
    for index, pos in enumerate(range(0, len(data), size)):
        chunk = data[pos:pos + size]
        out += hashlib.new(hash_name, index.to_bytes(4, "big") + chunk).digest()[:len(chunk)]
    return bytes(out)


def af_split(key: bytes, stripes: int, hash_name: str) -> bytes:
    n = len(key)
    acc = bytes(n)
    parts = []
    for _ in range(stripes - 1):
        stripe = os.urandom(n)
        parts.append(stripe)
        acc = _diffuse(_xor(acc, stripe), hash_name)
    parts.append(_xor(acc, key))
    return b"".join(parts)


def af_merge(material: bytes, key_bytes: int, stripes: int, hash_name: str) -> bytes:
    acc = bytes(key_bytes)
    for i in range(stripes - 1):
        acc = _diffuse(_xor(acc, material[i * key_bytes:(i + 1) * key_bytes]), hash_name)
    return _xor(acc, material[(stripes - 1) * key_bytes:stripes * key_bytes])


def _pbkdf2(hash_name: str, secret: bytes, salt: bytes, iterations: int, length: int) -> bytes:
    try:
        return hashlib.pbkdf2_hmac(hash_name, secret, salt, iterations, length)
    except ValueError:
        raise Error(errno.EOPNOTSUPP, f"LUKS: hash {hash_name!r} is not available") from None


# --- the loaded state ---------------------------------------------------------------------------
@dataclass
class Encryption:
    """A loaded LUKS volume key: what the C engine needs (engine.set_encryption)."""
    format: str                     # "LUKS1" / "LUKS2"
    key: bytes = field(repr=False)
    sector_size: int
    data_offset: int                # bytes: where the data area starts in the raw image
    cipher: str = f"{CIPHER}-{MODE}"


# --- format -------------------------------------------------------------------------------------
def _keyslot_material(key: bytes, passphrase: bytes, iterations: int) -> tuple[bytes, bytes]:
    """(salt, encrypted AF-split key material padded to KEYSLOT_ALIGN) of one keyslot."""
    salt = os.urandom(32)
    derived = _pbkdf2(HASH, passphrase, salt, iterations, len(key))
    material = af_split(key, STRIPES, HASH)
    material += bytes(_round_up(len(material), SECTOR) - len(material))
    encrypted = _crypt_sectors(derived, material, SECTOR, 0, True)
    return salt, bytes(encrypted) + bytes(_round_up(len(encrypted), KEYSLOT_ALIGN) - len(encrypted))


def _luks1_header(key: bytes, passphrase: bytes, alignment: int) -> tuple[bytes, int]:
    key_bytes = len(key)
    stride = _round_up(key_bytes * STRIPES, KEYSLOT_ALIGN) // SECTOR   # sectors per keyslot
    first = KEYSLOT_ALIGN // SECTOR
    header_end = (first + LUKS1_SLOTS * stride) * SECTOR
    data_offset = _round_up(header_end, alignment)
    iterations = _iterations()
    mk_salt = os.urandom(32)
    mk_iterations = max(DIGEST_ITERATIONS_MIN, iterations // 8)
    mk_digest = _pbkdf2(HASH, key, mk_salt, mk_iterations, LUKS1_DIGEST)
    salt, material = _keyslot_material(key, passphrase, iterations)
    head = LUKS1_HEADER.pack(MAGIC1, 1, CIPHER.encode(), MODE.encode(), HASH.encode(), data_offset // SECTOR,
                             key_bytes, mk_digest, mk_salt, mk_iterations, str(uuid_mod.uuid4()).encode())
    slots = b""
    for i in range(LUKS1_SLOTS):
        if i == 0:
            slots += LUKS1_SLOT.pack(SLOT_ACTIVE, iterations, salt, first, STRIPES)
        else:
            slots += LUKS1_SLOT.pack(SLOT_INACTIVE, 0, bytes(32), first + i * stride, STRIPES)
    header = head + slots
    header += bytes(first * SECTOR - len(header))
    return header + material, data_offset


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _luks2_binary(magic: bytes, hdr_offset: int, seqid: int, uid: str, json_area: bytes) -> bytes:
    binary = bytearray(LUKS2_BIN)
    struct.pack_into(">6sHQQ48s32s64s40s48sQ", binary, 0, magic, 2, LUKS2_HDR_SIZE, seqid, b"", HASH.encode(),
                     os.urandom(64), uid.encode(), b"", hdr_offset)
    whole = bytes(binary) + json_area
    digest = hashlib.sha256(whole).digest()
    binary[448:448 + len(digest)] = digest
    return bytes(binary) + json_area


def _luks2_header(key: bytes, passphrase: bytes, alignment: int) -> tuple[bytes, int]:
    key_bytes = len(key)
    data_offset = _round_up(LUKS2_DEFAULT_HEADER, alignment)
    area_offset = 2 * LUKS2_HDR_SIZE
    iterations = _iterations()
    salt, material = _keyslot_material(key, passphrase, iterations)
    digest_salt = os.urandom(32)
    digest_iterations = max(DIGEST_ITERATIONS_MIN, iterations // 8)
    digest = _pbkdf2(HASH, key, digest_salt, digest_iterations, hashlib.new(HASH).digest_size)
    encryption = f"{CIPHER}-{MODE}"
    meta = {
        "keyslots": {"0": {
            "type": "luks2", "key_size": key_bytes,
            "af": {"type": "luks1", "stripes": STRIPES, "hash": HASH},
            "area": {"type": "raw", "offset": str(area_offset), "size": str(len(material)),
                     "encryption": encryption, "key_size": key_bytes},
            "kdf": {"type": "pbkdf2", "hash": HASH, "iterations": iterations, "salt": _b64(salt)}}},
        "tokens": {},
        "segments": {"0": {"type": "crypt", "offset": str(data_offset), "size": "dynamic", "iv_tweak": "0",
                           "encryption": encryption, "sector_size": LUKS2_SECTOR}},
        "digests": {"0": {"type": "pbkdf2", "keyslots": ["0"], "segments": ["0"], "hash": HASH,
                          "iterations": digest_iterations, "salt": _b64(digest_salt), "digest": _b64(digest)}},
        "config": {"json_size": str(LUKS2_HDR_SIZE - LUKS2_BIN), "keyslots_size": str(data_offset - area_offset)},
    }
    text = json.dumps(meta, indent=2).encode()
    if len(text) >= LUKS2_HDR_SIZE - LUKS2_BIN:
        raise Error(errno.EINVAL, "LUKS2: metadata does not fit its 12 KiB JSON area")
    json_area = text + bytes(LUKS2_HDR_SIZE - LUKS2_BIN - len(text))
    uid = str(uuid_mod.uuid4())
    header = (_luks2_binary(MAGIC1, 0, 1, uid, json_area) +
              _luks2_binary(MAGIC2, LUKS2_HDR_SIZE, 1, uid, json_area))
    return header + material, data_offset


def format_header(fmt: int, alg: int, passphrase: bytes, object_size: int) -> tuple[bytes, Encryption]:
    """A new header (the bytes to write at offset 0; the rest of [0, data_offset) is unused) and the
    loaded encryption it describes (a fresh random volume key)."""
    if fmt not in (FORMAT_LUKS1, FORMAT_LUKS2):
        raise Error(errno.EINVAL, f"encryption format {fmt}: only LUKS1 (0) and LUKS2 (1) can be formatted")
    if alg not in KEY_BYTES:
        raise Error(errno.EINVAL, f"cipher algorithm {alg}: only AES128 (0) and AES256 (1) are supported")
    alignment = max(_round_up(object_size or 0, KEYSLOT_ALIGN), KEYSLOT_ALIGN)
    key = os.urandom(KEY_BYTES[alg])
    if fmt == FORMAT_LUKS1:
        header, data_offset = _luks1_header(key, bytes(passphrase), alignment)
        return header, Encryption("LUKS1", key, SECTOR, data_offset)
    header, data_offset = _luks2_header(key, bytes(passphrase), alignment)
    return header, Encryption("LUKS2", key, LUKS2_SECTOR, data_offset)


# --- load ---------------------------------------------------------------------------------------
def _cstr(raw: bytes) -> str:
    return raw.split(b"\0", 1)[0].decode("ascii", "replace")


def _check_cipher(cipher: str, mode: str) -> None:
    if cipher != CIPHER or mode != MODE:
        raise Error(errno.EOPNOTSUPP, f"LUKS: cipher {cipher}-{mode} is not supported (only {CIPHER}-{MODE})")


def _open_keyslot(derived: bytes, material: bytes, key_bytes: int, stripes: int, af_hash: str) -> bytes:
    size = key_bytes * stripes
    plain = _crypt_sectors(derived, material[:_round_up(size, SECTOR)], SECTOR, 0, False)
    return af_merge(bytes(plain), key_bytes, stripes, af_hash)


def _load_luks1(read, head: bytes, passphrase: bytes) -> Encryption:
    (_, _, cipher, mode, hash_spec, payload, key_bytes, mk_digest, mk_salt, mk_iterations,
     _) = LUKS1_HEADER.unpack_from(head, 0)
    cipher, mode, hash_name = _cstr(cipher), _cstr(mode), _cstr(hash_spec)
    _check_cipher(cipher, mode)
    if key_bytes not in (32, 64):
        raise Error(errno.EOPNOTSUPP, f"LUKS1: {key_bytes}-byte XTS keys are not supported (32 or 64)")
    for i in range(LUKS1_SLOTS):
        active, iterations, salt, km_offset, stripes = LUKS1_SLOT.unpack_from(head, LUKS1_HEADER.size +
                                                                              i * LUKS1_SLOT.size)
        if active != SLOT_ACTIVE or not stripes:
            continue
        derived = _pbkdf2(hash_name, passphrase, salt, iterations, key_bytes)
        material = read(km_offset * SECTOR, _round_up(key_bytes * stripes, SECTOR))
        key = _open_keyslot(derived, material, key_bytes, stripes, hash_name)
        if hmac.compare_digest(_pbkdf2(hash_name, key, mk_salt, mk_iterations, LUKS1_DIGEST), mk_digest):
            return Encryption("LUKS1", key, SECTOR, payload * SECTOR)
    raise Error(errno.EPERM, "LUKS1: no keyslot opens with this passphrase")


def _luks2_metadata(read, head: bytes) -> dict:
    """The JSON of the first of the two header copies whose checksum holds."""
    hdr_size = struct.unpack_from(">Q", head, 8)[0]
    if hdr_size < LUKS2_BIN + 4096 or hdr_size > (4 << 20):
        raise Error(errno.EINVAL, f"LUKS2: header size {hdr_size} is invalid")
    for at, magic in ((0, MAGIC1), (hdr_size, MAGIC2)):
        area = bytearray(read(at, hdr_size))
        if area[:6] != magic or struct.unpack_from(">H", area, 6)[0] != 2:
            continue
        alg = _cstr(bytes(area[72:104])) or HASH
        try:
            size = hashlib.new(alg).digest_size
        except ValueError:
            continue
        stored = bytes(area[448:448 + size])
        area[448:512] = bytes(64)
        if not hmac.compare_digest(hashlib.new(alg, bytes(area)).digest(), stored):
            continue
        try:
            return json.loads(bytes(area[LUKS2_BIN:]).split(b"\0", 1)[0])
        except ValueError:
            continue
    raise Error(errno.EINVAL, "LUKS2: neither header copy is valid (checksum or JSON)")


def _argon2(kdf: dict, passphrase: bytes, length: int) -> bytes:
    try:
        from argon2.low_level import Type, hash_secret_raw
    except ImportError:
        raise Error(errno.EOPNOTSUPP, f"LUKS2: keyslot uses {kdf.get('type')}, which needs the argon2-cffi "
                                      "package (not installed)") from None
    return hash_secret_raw(passphrase, base64.b64decode(kdf["salt"]), time_cost=int(kdf["time"]),
                           memory_cost=int(kdf["memory"]), parallelism=int(kdf["cpus"]), hash_len=length,
                           type=Type.ID if kdf["type"] == "argon2id" else Type.I)


def _load_luks2(read, head: bytes, passphrase: bytes) -> Encryption:
    meta = _luks2_metadata(read, head)
    segments = meta.get("segments") or {}
    if not segments:
        raise Error(errno.EINVAL, "LUKS2: the header has no data segment")
    seg_id = min(segments, key=int)
    segment = segments[seg_id]
    if segment.get("type") != "crypt":
        raise Error(errno.EOPNOTSUPP, f"LUKS2: segment type {segment.get('type')!r} is not supported")
    enc = str(segment.get("encryption", ""))
    cipher, _, mode = enc.partition("-")
    _check_cipher(cipher, mode)
    if int(segment.get("iv_tweak", "0")):
        raise Error(errno.EOPNOTSUPP, "LUKS2: a non-zero iv_tweak is not supported")
    sector_size = int(segment.get("sector_size", SECTOR))
    data_offset = int(segment["offset"])
    digests = [d for d in (meta.get("digests") or {}).values() if seg_id in d.get("segments", [])]
    unsupported = None
    for slot_id, slot in sorted((meta.get("keyslots") or {}).items(), key=lambda kv: int(kv[0])):
        digest = next((d for d in digests if slot_id in d.get("keyslots", [])), None)
        if digest is None or slot.get("type") != "luks2":
            continue
        area, kdf, af = slot["area"], slot["kdf"], slot["af"]
        key_bytes = int(slot["key_size"])
        area_key = int(area.get("key_size", key_bytes))
        try:
            a_cipher, _, a_mode = str(area.get("encryption", "")).partition("-")
            _check_cipher(a_cipher, a_mode)
            if kdf["type"] == "pbkdf2":
                derived = _pbkdf2(kdf["hash"], passphrase, base64.b64decode(kdf["salt"]), int(kdf["iterations"]),
                                  area_key)
            elif kdf["type"] in ("argon2i", "argon2id"):
                derived = _argon2(kdf, passphrase, area_key)
            else:
                raise Error(errno.EOPNOTSUPP, f"LUKS2: keyslot kdf {kdf['type']!r} is not supported")
        except Error as exc:
            if exc.errno != errno.EOPNOTSUPP:
                raise
            unsupported = exc
            continue
        stripes = int(af.get("stripes", STRIPES))
        material = read(int(area["offset"]), _round_up(key_bytes * stripes, SECTOR))
        key = _open_keyslot(derived, material, key_bytes, stripes, af.get("hash", HASH))
        if digest.get("type") != "pbkdf2":
            raise Error(errno.EOPNOTSUPP, f"LUKS2: digest type {digest.get('type')!r} is not supported")
        want = base64.b64decode(digest["digest"])
        got = _pbkdf2(digest["hash"], key, base64.b64decode(digest["salt"]), int(digest["iterations"]), len(want))
        if hmac.compare_digest(got, want):
            if key_bytes not in (32, 64):
                raise Error(errno.EOPNOTSUPP, f"LUKS2: {key_bytes}-byte XTS keys are not supported")
            return Encryption("LUKS2", key, sector_size, data_offset)
    if unsupported is not None:
        raise unsupported
    raise Error(errno.EPERM, "LUKS2: no keyslot opens with this passphrase")


def load_header(read, fmt: int, passphrase: bytes, raw_size: int) -> Encryption:
    """Open the LUKS header that ``read(offset, length) -> bytes`` (raw image bytes) finds."""
    if fmt not in (FORMAT_LUKS1, FORMAT_LUKS2, FORMAT_LUKS):
        raise Error(errno.EINVAL, f"encryption format {fmt} is not supported (LUKS1 0, LUKS2 1, LUKS 2)")
    head = read(0, 4096)
    if len(head) < LUKS1_HEADER.size + LUKS1_SLOTS * LUKS1_SLOT.size or head[:6] != MAGIC1:
        raise Error(errno.EINVAL, "the image has no LUKS header (no LUKS magic at offset 0)")
    version = struct.unpack_from(">H", head, 6)[0]
    want = {FORMAT_LUKS1: 1, FORMAT_LUKS2: 2}.get(fmt, version)
    if version != want:
        raise Error(errno.EINVAL, f"the image's header is LUKS{version}, not the LUKS{want} asked for")
    passphrase = bytes(passphrase)
    if version == 1:
        enc = _load_luks1(read, head, passphrase)
    elif version == 2:
        enc = _load_luks2(read, head, passphrase)
    else:
        raise Error(errno.EINVAL, f"LUKS version {version} is not supported")
    if enc.data_offset > raw_size:
        raise Error(errno.EINVAL, f"{enc.format}: data offset {enc.data_offset} is beyond the image size {raw_size}")
    if enc.data_offset % 4096 or enc.sector_size not in (512, 1024, 2048, 4096):
        raise Error(errno.EOPNOTSUPP, f"{enc.format}: data offset {enc.data_offset} / sector size "
                                      f"{enc.sector_size} is not 4 KiB aligned")
    return enc


# --- on an image (core Image) -------------------------------------------------------------------
def format_image(image, fmt: int, alg: int, passphrase: bytes) -> Encryption:
    """rbd_encryption_format: write a new header to the image and load it (librbd does both).
    EEXIST if encryption is loaded; ENOSPC if the image is not larger than the header."""
    if image._crypto is not None:
        raise Error(errno.EEXIST, f"{image}: encryption is already loaded")
    image._check_writable()
    object_size = 1 << int(image.stat().get("order") or 22)
    header, enc = format_header(fmt, alg, passphrase, object_size)
    raw_size = image.size()
    if enc.data_offset >= raw_size:
        raise Error(errno.ENOSPC, f"{image}: too small for a {enc.format} header: format needs more than "
                                  f"{enc.data_offset} bytes, the image has {raw_size}")
    image.write(0, header)
    # the rest of the header area (keyslots of an earlier header, old data) is wiped
    image.discard(len(header), enc.data_offset - len(header))
    image.flush()
    image._crypto = enc
    return enc


def load_image(image, fmt: int, passphrase: bytes) -> Encryption:
    """rbd_encryption_load: open the image's header with ``passphrase``; its I/O is then decrypted.
    EEXIST if encryption is loaded already."""
    if image._crypto is not None:
        raise Error(errno.EEXIST, f"{image}: encryption is already loaded")
    image._check_open()
    raw_size = image.size()

    def read(offset: int, length: int) -> bytes:
        if offset >= raw_size:
            return b""
        return image.read(offset, min(length, raw_size - offset))
    try:
        enc = load_header(read, fmt, passphrase, raw_size)
    except Error as exc:
        raise Error(exc.errno, f"{image}: encryption load: {exc.strerror}") from None
    image._crypto = enc
    return enc
