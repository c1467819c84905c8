"""rbd import / export (sparse, files and pipes) and export-diff / import-diff (Ceph's rbd diff v1 stream)."""
import io
import json
import os
import random
import struct
import subprocess

import pytest
from hypothesis import given, settings, strategies as st

from cli_helpers import command, piped, pool, read_image, run, write_image  # noqa: F401
from curverbd.cli.diff_stream import DiffWriter, Record, read_records
from curverbd.errors import Error

MiB = 1 << 20


def holey_file(path, size, pieces):
    """A sparse file of ``size`` bytes holding ``pieces`` ({offset: bytes}); holes elsewhere."""
    with open(path, "wb") as f:
        f.truncate(size)
        for offset, data in pieces.items():
            f.seek(offset)
            f.write(data)
    return path


def data_blocks(path) -> int:
    return os.stat(path).st_blocks


def test_import_export_100mib_with_holes_is_identical_and_sparse(daemon, pool, tmp_path):
    rng = random.Random(5)
    pieces = {0: rng.randbytes(MiB), 7 * MiB + 4096: rng.randbytes(3 * MiB + 100),
              50 * MiB: rng.randbytes(4096), 99 * MiB: rng.randbytes(MiB - 4096),
              30 * MiB: b"\0" * (2 * MiB)}   # written zeros: allocated in the file, but nothing to store
    src = holey_file(str(tmp_path / "src.raw"), 100 * MiB, pieces)
    run(daemon, "rbd", "import", src, "vms/disk")
    assert read_image("vms", "disk") == open(src, "rb").read()
    used = json.loads(run(daemon, "rbd", "du", "vms/disk", "--format", "json").stdout)["images"][0]["used_size"]
    assert used < 10 * MiB   # the holes and the written zeros were skipped

    out = str(tmp_path / "out.raw")
    run(daemon, "rbd", "export", "vms/disk", out)
    with open(src, "rb") as a, open(out, "rb") as b:
        assert a.read() == b.read()
    assert os.path.getsize(out) == 100 * MiB
    # as sparse as the source, minus its written-zero region
    assert data_blocks(out) <= data_blocks(src) - (2 * MiB) // 512 + 64
    assert data_blocks(out) * 512 < 10 * MiB

    # through pipes: stdin -> image (growing as data arrives), image -> stdout
    with open(src, "rb") as f:
        run(daemon, "rbd", "import", "-", "vms/piped", stdin=f, text=False)
    assert read_image("vms", "piped") == open(src, "rb").read()
    streamed = run(daemon, "rbd", "export", "vms/piped", "-", text=False).stdout
    assert streamed == open(src, "rb").read()


def test_import_names_and_sizes(daemon, pool, tmp_path):
    src = holey_file(str(tmp_path / "named.img"), 5 * MiB + 123, {MiB: b"x" * 10, 5 * MiB: b"end" * 41})
    run(daemon, "rbd", "import", "-p", "vms", src)    # destination named after the file
    assert read_image("vms", "named.img") == open(src, "rb").read()
    empty = holey_file(str(tmp_path / "empty"), 0, {})
    run(daemon, "rbd", "import", empty, "vms/empty")
    assert read_image("vms", "empty") == b""
    run(daemon, "rbd", "import", "-", "vms/from-stdin", input=b"", text=False)
    assert read_image("vms", "from-stdin") == b""

    exists = run(daemon, "rbd", "import", src, "vms/named.img", ok=False)
    assert exists.returncode == 17 and exists.stderr.startswith("rbd: import failed: (17) File exists")
    assert read_image("vms", "named.img") == open(src, "rb").read()     # untouched
    missing = run(daemon, "rbd", "import", str(tmp_path / "nope"), "vms/x", ok=False)
    assert missing.returncode == 2 and "error opening" in missing.stderr
    assert run(daemon, "rbd", "ls", "vms").stdout.split() == ["empty", "from-stdin", "named.img"]
    stdin_no_name = run(daemon, "rbd", "import", "-", ok=False, input="")
    assert stdin_no_name.returncode == 22


def test_export_refuses_to_overwrite_and_exports_snapshots(daemon, pool, tmp_path):
    run(daemon, "rbd", "create", "-s", "8", "vms/img")
    write_image("vms", "img", {4096: b"a" * 8192})
    run(daemon, "rbd", "snap", "create", "vms/img@one")
    write_image("vms", "img", {4096: b"b" * 8192})
    target = tmp_path / "taken"
    target.write_bytes(b"keep me")
    taken = run(daemon, "rbd", "export", "vms/img", str(target), ok=False)
    assert taken.returncode == 17 and target.read_bytes() == b"keep me"
    run(daemon, "rbd", "export", "vms/img@one", str(tmp_path / "one"))
    run(daemon, "rbd", "export", "-p", "vms", "--image", "img", "--snap", "one", "--path", str(tmp_path / "one2"))
    expected = bytes(4096) + b"a" * 8192 + bytes(8 * MiB - 3 * 4096)
    assert (tmp_path / "one").read_bytes() == (tmp_path / "one2").read_bytes() == expected
    nosnap = run(daemon, "rbd", "export", "vms/img@nope", str(tmp_path / "x"), ok=False)
    assert nosnap.returncode == 2 and not (tmp_path / "x").exists()


def _parse_stream(raw: bytes) -> list[tuple]:
    """An independent reader of the v1 layout (Ceph's doc/dev/rbd-diff.rst), for checking what we write."""
    assert raw.startswith(b"rbd diff v1\n")
    pos, records = len(b"rbd diff v1\n"), []
    while True:
        tag = raw[pos:pos + 1].decode()
        pos += 1
        if tag in "ft":
            (n,) = struct.unpack_from("<I", raw, pos)
            records.append((tag, raw[pos + 4:pos + 4 + n].decode()))
            pos += 4 + n
        elif tag == "s":
            records.append(("s", struct.unpack_from("<Q", raw, pos)[0]))
            pos += 8
        elif tag == "w":
            off, n = struct.unpack_from("<QQ", raw, pos)
            records.append(("w", off, raw[pos + 16:pos + 16 + n]))
            pos += 16 + n
        elif tag == "z":
            records.append(("z", *struct.unpack_from("<QQ", raw, pos)))
            pos += 16
        else:
            assert tag == "e" and pos == len(raw), (tag, pos, len(raw))
            records.append(("e",))
            return records


def test_export_diff_between_snapshots_reproduces_the_image(daemon, pool, tmp_path):
    rng = random.Random(7)
    run(daemon, "rbd", "create", "-s", "24", "vms/src")
    write_image("vms", "src", {0: rng.randbytes(MiB), 9 * MiB + 512: rng.randbytes(2 * MiB), 23 * MiB: b"t" * 4096})
    run(daemon, "rbd", "snap", "create", "vms/src@s1")
    # changes: overwrite, zero a range that held data, grow and write past the old end
    write_image("vms", "src", {512 * 1024: rng.randbytes(4096 * 3 + 7), 9 * MiB + 512: bytes(MiB)})
    run(daemon, "rbd", "resize", "-s", "30", "vms/src")
    write_image("vms", "src", {28 * MiB: rng.randbytes(MiB)})
    run(daemon, "rbd", "snap", "create", "vms/src@s2")
    write_image("vms", "src", {0: b"after s2" * 512})   # the head moves on; s2 is what is exported

    run(daemon, "rbd", "create", "-s", "24", "vms/dst")
    rc = piped(["rbd", "export-diff", "vms/src@s1", "-"], ["rbd", "import-diff", "-", "vms/dst"],
               daemon.env(), daemon.env())
    assert rc[:2] == (0, 0), rc
    assert read_image("vms", "dst") == read_image("vms", "src", "s1")
    rc = piped(["rbd", "export-diff", "--from-snap", "s1", "vms/src@s2", "-"], ["rbd", "import-diff", "-", "vms/dst"],
               daemon.env(), daemon.env())
    assert rc[:2] == (0, 0), rc
    assert read_image("vms", "dst") == read_image("vms", "src", "s2")
    assert read_image("vms", "dst", "s1") == read_image("vms", "src", "s1")
    assert read_image("vms", "dst", "s2") == read_image("vms", "src", "s2")

    # the stream follows the documented layout: header, f, t, s, then data records, then e
    raw = run(daemon, "rbd", "export-diff", "vms/src@s2", "--from-snap", "s1", "-", text=False).stdout
    records = _parse_stream(raw)
    assert records[:3] == [("f", "s1"), ("t", "s2"), ("s", 30 * MiB)] and records[-1] == ("e",)
    assert {r[0] for r in records[3:-1]} <= {"w", "z"}
    changed = {r[1] for r in records[3:-1]}
    assert 512 * 1024 <= min(changed) and 28 * MiB in {r[1] for r in records if r[0] == "w"} | changed
    # a file works as well as a pipe, and applying a diff twice is refused (its end snapshot exists)
    diff = str(tmp_path / "s1-s2.diff")
    run(daemon, "rbd", "export-diff", "vms/src@s2", "--from-snap", "s1", diff)
    assert open(diff, "rb").read() == raw
    again = run(daemon, "rbd", "import-diff", diff, "vms/dst", ok=False)
    assert again.returncode == 17 and "end snapshot 's2' already exists" in again.stderr


def test_import_diff_reads_a_hand_built_stream(daemon, pool):
    run(daemon, "rbd", "create", "-s", "1", "vms/hand")
    write_image("vms", "hand", {0: b"\xee" * 8192})
    stream = (b"rbd diff v1\n" + b"t" + struct.pack("<I", 4) + b"snap" + b"s" + struct.pack("<Q", 2 * MiB)
              + b"w" + struct.pack("<QQ", 100, 5) + b"hello"
              + b"z" + struct.pack("<QQ", 4096, 4096)
              + b"w" + struct.pack("<QQ", 2 * MiB - 3, 3) + b"end" + b"e")
    run(daemon, "rbd", "import-diff", "-", "vms/hand", input=stream, text=False)
    data = read_image("vms", "hand")
    expected = bytearray(2 * MiB)
    expected[0:4096] = b"\xee" * 4096
    expected[100:105] = b"hello"
    expected[-3:] = b"end"
    assert data == bytes(expected)
    assert read_image("vms", "hand", "snap") == data
    for bad, why in ((b"rbd diff v2\n", "not an rbd diff v1 stream"),
                     (b"rbd diff v1\nw" + struct.pack("<QQ", 0, 10) + b"short", "truncated"),
                     (b"rbd diff v1\ns" + struct.pack("<Q", MiB), "without its end record"),
                     (b"rbd diff v1\nX", "unknown record tag")):
        proc = run(daemon, "rbd", "import-diff", "-", "vms/hand", input=bad, text=False, ok=False)
        assert proc.returncode == 22 and why in proc.stderr.decode(), proc.stderr


records = st.lists(st.one_of(
    st.builds(lambda o, d: Record("w", offset=o, length=len(d), data=d), st.integers(0, 2**40),
              st.binary(min_size=1, max_size=64)),
    st.builds(lambda o, n: Record("z", offset=o, length=n), st.integers(0, 2**40), st.integers(1, 2**40))),
    max_size=20)


@settings(max_examples=200, deadline=None)
@given(st.one_of(st.none(), st.text(min_size=1, max_size=30)), st.one_of(st.none(), st.text(min_size=1, max_size=30)),
       st.integers(0, 2**63), records)
def test_diff_stream_round_trip(from_snap, to_snap, size, body):
    out = io.BytesIO()
    writer = DiffWriter(out)
    if from_snap:
        writer.from_snap(from_snap)
    if to_snap:
        writer.to_snap(to_snap)
    writer.size(size)
    for r in body:
        writer.data(r.offset, r.data) if r.tag == "w" else writer.zero(r.offset, r.length)
    writer.end()
    expected = ([Record("f", name=from_snap)] if from_snap else []) + (
        [Record("t", name=to_snap)] if to_snap else []) + [Record("s", length=size)] + body + [Record("e")]
    assert list(read_records(io.BytesIO(out.getvalue()))) == expected
    # any cut short of the end is an error, never a silent partial diff
    raw = out.getvalue()
    with pytest.raises(Error):
        list(read_records(io.BytesIO(raw[:random.Random(len(raw)).randrange(len(raw))])))


def test_no_progress_when_piped(daemon, pool, tmp_path):
    src = holey_file(str(tmp_path / "p.raw"), 12 * MiB, {MiB: b"x" * MiB})
    for argv in (["import", src, "vms/p"], ["export", "vms/p", str(tmp_path / "back")], ["resize", "-s", "20", "vms/p"],
                 ["snap", "create", "vms/p@s"], ["export-diff", "vms/p@s", str(tmp_path / "d")],
                 ["rm", "vms/nothing"]):
        proc = subprocess.run(command(["rbd", *argv]), env=daemon.env(), capture_output=True, text=True)
        assert "complete" not in proc.stderr, argv
