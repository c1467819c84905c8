"""What one wire message costs the Python control plane: our proto2 codec (curverbd/nebd/protobuf.py +
messages.py + framing.py) against the `protobuf` package, per message, encode + decode.

    python3 bench/codec_cost.py [--json]

Rows: Curve MDS CreateFile and GetFileInfo (request and response, curverbd/curve/nameserver2.py), nebd
OpenFile (request and response), and a data Read as whole baidu_std frames (12-byte header + RpcMeta +
ReadRequest; reply header + RpcMeta + ReadResponse), as the daemon's Python fallback loop and the nebd
client see them. Columns, µs per message (encode, then decode reading every field; best of several runs):

  ours     - Message.encode(dict) / Message.decode(bytes) -> dict; frames with framing.*
  upb      - the `protobuf` package (its default C backend, upb), classes built at run time from a
             FileDescriptorProto made from our own schema tables (so both sides read the same fields);
             encode = Class(**fields).SerializeToString(), decode = Class.FromString() + every field read
  pure     - the same with PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION=python (what a platform without a wheel gets)

and, once, what each costs a fresh interpreter to import with the nebd + nameserver2 schemas built (the
daemon imports it once; the client library imports it inside QEMU at the first open, whose budget is
100 ms over qemu-img's own).  Without the `protobuf` package the upb/pure columns are left out.

Measured on this machine (CPython 3.11.7, protobuf 7.36.2 from PyPI in a venv, `python bench/codec_cost.py`;
"before" is the codec as it was before issue 15 (per-field dispatch on kinds at run time) and "fastwire" the
hand-written data-frame codec the daemon's Python fallback used then, both measured with this script on
the earlier tree in the same sitting):

    message                        ours  before fastwire    upb   pure   (µs, encode+decode)
    mds CreateFile request         10.7   20.5       -     5.1   48.1
    mds CreateFile response         1.3    2.6       -     2.5   11.1
    mds GetFileInfo request         6.4   11.8       -     3.8   30.8
    mds GetFileInfo response       23.7   48.6       -    12.1  134.5
    nebd OpenFile request           4.4   10.5       -     5.9   46.0
    nebd OpenFile response          2.0    5.1       -     2.8   15.8
    Read request frame             14.3   25.8     7.4     4.9   74.3
    Read reply frame               10.4   17.9     5.0     4.9   60.2
    import + schemas (ms)           3.9      -       -    22.2   36.6

(import: ours over the standard library modules it uses; the package's is its import plus building the
classes, on top of that.)

Decision: keep ours, the one Python codec of the nebd and nameserver2 messages and of brpc's RpcMeta.
The package (upb) saves 0-12 µs per message on the control plane, and a control call is one request and
one reply that each cross a socket: a round trip to the daemon or an MDS costs 100 µs and more and the
MDS's own work milliseconds, so that saving is lost in every call's noise, while the data path has no
Python in it (the client's engine and the daemon's per-I/O loop are C). What the package would cost is
paid by every process: ~22 ms more at import (5x ours), inside QEMU's first open too (budget: 100 ms over
qemu-img's own), a compiled dependency in a library loaded into QEMU, fio and Debian's python3-rbd
processes, and, on a platform with no wheel for it (pure column), 4-8x slower than ours on every row.

The Read frames are what the daemon's Python fallback (no compiler: logged once as slower) decodes and
encodes per I/O; it now uses the generic codec, made 2x faster by compiling each message's fields once
(key bytes, converter) instead of dispatching on kinds per field, rather than keeping fastwire.py, a second
codec: its side of a frame (request decode + reply head) costs ~6 µs more than fastwire's did, small next
to that path's volume write or read and Python frame loop.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import timeit

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from curverbd.curve import nameserver2 as ns  # noqa: E402
from curverbd.nebd import framing, messages  # noqa: E402

AUTH = {"owner": "cinder", "signature": "mL1eJ4wWc8bMIUo3nvhYGh0Gkxxeaa0Xp7tdfwq2vE0=", "date": 1718000000123456}
FILE_INFO = {
    "id": 1045, "fileName": "volume-3f1c2a9e-8d1b-4a56-9c0e-2b7d3c1e9f00", "parentId": 2, "fileType": 1,
    "owner": "cinder", "chunkSize": 16 << 20, "segmentSize": 1 << 30, "length": 40 << 30,
    "ctime": 1718000000123456, "seqNum": 3, "fileStatus": 0, "stripeUnit": 0, "stripeCount": 0,
    "epoch": 0, "poolset": "default", "blocksize": 4096,
}
CASES = [  # (row, message, value)
    ("mds CreateFile request", ns.METHODS["CreateFile"][0],
     {"fileName": "/cinder/volume-3f1c2a9e-8d1b-4a56-9c0e-2b7d3c1e9f00", "fileType": 1,
      "fileLength": 40 << 30, "poolset": "default", **AUTH}),
    ("mds CreateFile response", ns.METHODS["CreateFile"][1], {"statusCode": 0}),
    ("mds GetFileInfo request", ns.METHODS["GetFileInfo"][0],
     {"fileName": "/cinder/volume-3f1c2a9e-8d1b-4a56-9c0e-2b7d3c1e9f00", **AUTH}),
    ("mds GetFileInfo response", ns.METHODS["GetFileInfo"][1], {"statusCode": 0, "fileInfo": FILE_INFO}),
    ("nebd OpenFile request", messages.OpenFileRequest,
     {"fileName": "cbd:pool//cinder/volume-3f1c2a9e_cinder_", "flags": {"exclusive": True},
      "opener": "a8f3c2d1e4b5"}),
    ("nebd OpenFile response", messages.OpenFileResponse, {"retCode": 0, "fd": 7}),
]
READ = {"fd": 7, "offset": 40 << 30, "size": 4096}
CID = 123456


# --- ours ---------------------------------------------------------------------------------------
def ours_read_request() -> None:
    frame = framing.request_head(messages.FILE_SERVICE, "Read", CID, messages.ReadRequest.encode(READ))
    body, meta = framing.parse_header(frame[:12])
    got = framing.parse_body(memoryview(frame)[12:], meta)
    got.meta["request"]["method_name"], messages.ReadRequest.decode(got.payload)


def ours_read_reply() -> None:
    frame = framing.response_head(CID, messages.ReadResponse.encode({"retCode": 0}), 4096) + bytes(4096)
    body, meta = framing.parse_header(frame[:12])
    got = framing.parse_body(memoryview(frame)[12:], meta)
    messages.ReadResponse.decode(got.payload)


# --- the protobuf package -----------------------------------------------------------------------
_TYPES = {"int32": 5, "int64": 3, "uint32": 13, "uint64": 4, "bool": 8, "string": 9, "bytes": 12, "message": 11,
          "enum": 5}  # enum: int32 on the wire, and our tables name no enum types


def pb_classes() -> dict:
    """{Message: class} for every message of our tables, built from a FileDescriptorProto at run time."""
    from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

    wanted: dict[int, object] = {}

    def walk(msg) -> None:
        if id(msg) in wanted:
            return
        wanted[id(msg)] = msg
        for field in msg.fields:
            if field.message is not None:
                walk(field.message)
    for _, msg, _ in CASES:
        walk(msg)
    for msg in (messages.RpcMeta, messages.ReadRequest, messages.ReadResponse):
        walk(msg)
    names = {key: f"M{n}_{msg.name}" for n, (key, msg) in enumerate(wanted.items())}
    fdp = descriptor_pb2.FileDescriptorProto(name="codec_cost.proto", package="bench", syntax="proto2")
    for key, msg in wanted.items():
        dp = fdp.message_type.add(name=names[key])
        for field in msg.fields:
            label = 3 if field.repeated else (2 if field.required else 1)
            fp = dp.field.add(name=field.name, number=field.number, label=label, type=_TYPES[field.kind])
            if field.message is not None:
                fp.type_name = ".bench." + names[id(field.message)]
    pool = descriptor_pool.DescriptorPool()
    pool.Add(fdp)
    return {msg: message_factory.GetMessageClass(pool.FindMessageTypeByName("bench." + names[key]))
            for key, msg in wanted.items()}


def pb_build(cls, value: dict):
    kwargs = {k: (pb_build(cls.DESCRIPTOR.fields_by_name[k].message_type._concrete_class, v)
                  if isinstance(v, dict) else v) for k, v in value.items()}
    return cls(**kwargs)


def pb_read(obj) -> None:
    """Read every field set, as a caller of the decoded message would."""
    for desc, value in obj.ListFields():
        if desc.message_type is not None:
            for item in (value if desc.is_repeated else (value,)):
                pb_read(item)


def pb_cases(classes: dict) -> list:
    import struct
    header = struct.Struct(">4sII")
    meta_cls, req_cls, resp_cls = classes[messages.RpcMeta], classes[messages.ReadRequest], \
        classes[messages.ReadResponse]

    def read_request() -> None:
        payload = req_cls(**READ).SerializeToString()
        meta = meta_cls(request={"service_name": messages.FILE_SERVICE, "method_name": "Read"},
                        correlation_id=CID).SerializeToString()
        frame = header.pack(b"PRPC", len(meta) + len(payload), len(meta)) + meta + payload
        _, body, size = header.unpack_from(frame)
        got = meta_cls.FromString(frame[12:12 + size])
        got.request.method_name, got.correlation_id, got.attachment_size
        req = req_cls.FromString(frame[12 + size:])
        req.fd, req.offset, req.size

    def read_reply() -> None:
        payload = resp_cls(retCode=0).SerializeToString()
        meta = meta_cls(response={"error_code": 0}, correlation_id=CID, attachment_size=4096).SerializeToString()
        frame = header.pack(b"PRPC", len(meta) + len(payload) + 4096, len(meta)) + meta + payload + bytes(4096)
        _, body, size = header.unpack_from(frame)
        got = meta_cls.FromString(frame[12:12 + size])
        got.response.error_code, got.correlation_id, got.attachment_size
        resp_cls.FromString(frame[12 + size:12 + body - got.attachment_size]).retCode

    out = []
    for row, msg, value in CASES:
        cls = classes[msg]

        def one(cls=cls, value=value) -> None:
            pb_read(cls.FromString(pb_build(cls, value).SerializeToString()))
        assert pb_build(cls, value).SerializeToString() == msg.encode(value), row  # same bytes as ours
        out.append((row, one))
    return out + [("Read request frame", read_request), ("Read reply frame", read_reply)]


# --- timing -------------------------------------------------------------------------------------
def per_call_us(fn, number: int = 5000, repeat: int = 7) -> float:
    return round(min(timeit.repeat(fn, number=number, repeat=repeat)) / number * 1e6, 1)


def ours_rows() -> dict:
    rows = {row: per_call_us(lambda msg=msg, value=value: msg.decode(msg.encode(value)))
            for row, msg, value in CASES}
    rows["Read request frame"] = per_call_us(ours_read_request)
    rows["Read reply frame"] = per_call_us(ours_read_reply)
    return rows


# each its own cost: the standard library modules both use are imported before the clock starts
IMPORT_OURS = ("import collections, enum, struct, typing", "import curverbd.nebd.framing, curverbd.curve.nameserver2")
# the package's: its modules imported and our messages' classes built (our tables, which only describe
# the messages here, imported before the clock starts)
IMPORT_PB = ("import sys; sys.path.insert(0, %r); import codec_cost" % os.path.join(ROOT, "bench"),
             "codec_cost.pb_classes()")


def import_ms(code: tuple, env: dict, runs: int = 9) -> float:
    """Wall time a fresh interpreter takes to run ``code[1]`` (after ``code[0]``, untimed)."""
    def once(src: tuple) -> float:
        probe = "%s\nimport time; t = time.perf_counter(); %s; print(time.perf_counter() - t)" % src
        out = subprocess.run([sys.executable, "-c", probe], env=env, cwd=ROOT, check=True,
                             capture_output=True, text=True).stdout
        return float(out)
    return round(min(once(code) for _ in range(runs)) * 1000, 1)  # the best run: the machine's other load left out


def child_rows() -> dict:
    rows = {row: per_call_us(fn) for row, fn in pb_cases(pb_classes())}
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child_rows()))
        return
    env = dict(os.environ, PYTHONPATH=ROOT)
    table = {"ours": ours_rows()}
    table["ours"]["import + schemas (ms)"] = import_ms(IMPORT_OURS, env)
    try:
        import google.protobuf  # noqa: F401
        have_pb = True
    except ImportError:
        have_pb = False
        print("the protobuf package is not installed: its columns are left out", file=sys.stderr)
    if have_pb:
        for column, impl in (("upb", "upb"), ("pure", "python")):
            child_env = dict(env, PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION=impl)
            out = subprocess.run([sys.executable, __file__, "--child"], env=child_env, check=True,
                                 capture_output=True, text=True).stdout
            table[column] = json.loads(out)
            table[column]["import + schemas (ms)"] = import_ms(IMPORT_PB, child_env)
    if args.json:
        print(json.dumps(table, indent=1))
        return
    columns = list(table)
    print(f"{'message':30}" + "".join(f"{c:>7}" for c in columns) + "   (µs, encode+decode)")
    for row in table["ours"]:
        print(f"{row:30}" + "".join(f"{table[c].get(row, float('nan')):7.1f}" for c in columns))


if __name__ == "__main__":
    main()
