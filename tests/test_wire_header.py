"""The C wire header (curverbd/nebd/nebd_wire.h) and the frame loop's declarations (_fastloop.h)
agree with the Python codec and the Python side of the loop: constants, field numbers, and the
bytes of the heads both C sides write. Each language states these once; this keeps the two
statements equal."""
import os
import re
import shutil
import subprocess

import pytest

from curverbd.nebd import framing, messages
from curverbd.server import build_fastpath, fastpath, volume

HEADER = build_fastpath.WIRE_HEADER


def header_text() -> str:
    with open(HEADER) as f:
        return f.read()


def define(name: str) -> int:
    """An integer #define of nebd_wire.h (literals, <<, +, parentheses and other defines only)."""
    expr = re.search(rf"^#define {name} (.+?)(?:/\*.*)?$", header_text(), re.M).group(1)
    expr = re.sub(r"\b(\d+)u\b", r"\1", expr)
    expr = re.sub(r"\b(NEBD_\w+)\b", lambda m: str(define(m.group(1))), expr)
    assert re.fullmatch(r"[\d\s()<+]+", expr), expr
    return eval(expr)


def enum_value(name: str) -> int:
    return int(re.search(rf"\b{name} = (-?\d+)", header_text()).group(1))


def test_limits_and_names():
    assert define("NEBD_MAX_BODY") == framing.MAX_BODY
    assert define("NEBD_HEAD_SIZE") == framing.HEADER_SIZE
    assert re.search(r'#define NEBD_FILE_SERVICE "([^"]+)"', header_text()).group(1) == messages.FILE_SERVICE
    names = re.findall(r'case NEBD_(\w+): return "(\w+)";', header_text())
    assert {name for _, name in names} == set(fastpath.DATA_METHODS) | {"Flush"}


@pytest.mark.parametrize("const, message, field", [
    ("NEBD_META_REQUEST", messages.RpcMeta, "request"),
    ("NEBD_META_RESPONSE", messages.RpcMeta, "response"),
    ("NEBD_META_COMPRESS", messages.RpcMeta, "compress_type"),
    ("NEBD_META_CID", messages.RpcMeta, "correlation_id"),
    ("NEBD_META_ATTACHMENT", messages.RpcMeta, "attachment_size"),
    ("NEBD_REQ_SERVICE", messages.RpcRequestMeta, "service_name"),
    ("NEBD_REQ_METHOD", messages.RpcRequestMeta, "method_name"),
    ("NEBD_RESP_ERROR_CODE", messages.RpcResponseMeta, "error_code"),
    ("NEBD_RESP_ERROR_TEXT", messages.RpcResponseMeta, "error_text"),
    ("NEBD_IO_FD", messages.ReadRequest, "fd"),
    ("NEBD_IO_OFFSET", messages.ReadRequest, "offset"),
    ("NEBD_IO_SIZE", messages.ReadRequest, "size"),
    ("NEBD_RET_CODE", messages.ReadResponse, "retCode"),
    ("NEBD_RET_MSG", messages.ReadResponse, "retMsg"),
])
def test_field_numbers(const, message, field):
    assert message.by_number[enum_value(const)].name == field


def test_fastloop_declarations_match_python():
    """_fastloop.h is what cffi reads (build_fastpath.cdef()); its constants are fastpath's and volume's."""
    cffi = pytest.importorskip("cffi")
    ffi = cffi.FFI()
    ffi.cdef(build_fastpath.cdef())
    consts = ffi.dlopen(None)   # the cdef's enum constants (no symbol of the loop is looked up)
    assert [consts.CRBD_PYTHON, consts.CRBD_REBUFFER, consts.CRBD_IDLE, consts.CRBD_CLOSED,
            consts.CRBD_SPLICE_FAILED, consts.CRBD_SPLICE_REDO, consts.CRBD_FLUSH_FAILED] == \
        [fastpath.PYTHON, fastpath.REBUFFER, fastpath.IDLE, fastpath.CLOSED,
         fastpath.SPLICE_FAILED, fastpath.SPLICE_REDO, fastpath.FLUSH_FAILED]
    assert consts.CRBD_WRITE_PIECE == volume.WRITE_PIECE
    assert ffi.sizeof("struct crbd_conn") > 0   # the structs parse


HEADS_C = r"""
#include <stdio.h>
#include "nebd_wire.h"

static void show(const unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        printf("%02x", p[i]);
    printf("\n");
}

int main(void)
{
    unsigned char buf[NEBD_REQUEST_HEAD_MAX];
    static const struct { int m; uint64_t cid; int32_t fd; uint64_t off, size, att; } rq[] = {
        { NEBD_READ, 1, 3, 0, 4096, 0 },
        { NEBD_WRITE, 300, 7, 1ull << 40, 1u << 20, 1u << 20 },
        { NEBD_DISCARD, 1ull << 62, -1, 4096, 8192, 0 },
        { NEBD_FLUSH, 12345678901ull, 2147483647, 0, 0, 0 },
    };
    for (size_t i = 0; i < sizeof rq / sizeof rq[0]; i++)
        show(buf, nebd_request_head(buf, sizeof buf, rq[i].m, rq[i].cid, rq[i].fd, rq[i].off,
                                    rq[i].size, rq[i].att));
    static const struct { uint64_t cid; uint32_t att; } rp[] = { { 1, 0 }, { 1ull << 62, 4096 }, { 77, 32u << 20 } };
    for (size_t i = 0; i < sizeof rp / sizeof rp[0]; i++)
        show(buf, nebd_reply_head(buf, rp[i].cid, rp[i].att));
    return 0;
}
"""


@pytest.mark.skipif(shutil.which("gcc") is None, reason="needs gcc")
def test_heads_are_the_python_codecs_bytes(tmp_path):
    src, exe = tmp_path / "heads.c", tmp_path / "heads"
    src.write_text(HEADS_C)
    subprocess.run(["gcc", "-Wall", "-Werror", "-O2", "-I", os.path.dirname(HEADER), "-o", exe, src], check=True)
    got = subprocess.run([exe], check=True, capture_output=True, text=True).stdout.split()

    def request(method, cid, fd, offset, size, att):
        fields = {"fd": fd} if method == "Flush" else {"fd": fd, "offset": offset, "size": size}
        payload = getattr(messages, method + "Request").encode(fields)
        return framing.request_head(messages.FILE_SERVICE, method, cid, payload, att).hex()

    want = [request("Read", 1, 3, 0, 4096, 0),
            request("Write", 300, 7, 1 << 40, 1 << 20, 1 << 20),
            request("Discard", 1 << 62, -1, 4096, 8192, 0),
            request("Flush", 12345678901, 2**31 - 1, 0, 0, 0)]
    ok = messages.ReadResponse.encode({"retCode": 0})
    want += [framing.response_head(cid, ok, att).hex() for cid, att in ((1, 0), (1 << 62, 4096), (77, 32 << 20))]
    assert got == want


def test_the_loops_sources_ship():
    """The wheel (package-data) and the sdist (MANIFEST.in) carry every file the loop is built from:
    an installed daemon without one cannot build or even name its frame loop."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(build_fastpath.__file__)))   # curverbd/
    with open(os.path.join(os.path.dirname(root), "pyproject.toml")) as f:
        package_data = re.search(r"^curverbd = \[(.*)\]$", f.read(), re.M).group(1)
    with open(os.path.join(os.path.dirname(root), "MANIFEST.in")) as f:
        manifest = f.read().split()
    for path in build_fastpath.INPUTS:
        rel = os.path.relpath(path, root)
        assert f'"{rel}"' in package_data
        assert f"curverbd/{rel}" in manifest
