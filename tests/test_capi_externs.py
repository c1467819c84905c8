"""How Python failures become C return values (curverbd.capi.externs), without the library."""
from __future__ import annotations

import errno
import logging
import sys

import pytest

from curverbd.capi.externs import _onerror
from curverbd.errors import Error


@pytest.fixture
def capi_log(caplog):
    """The records of curverbd.capi, even after the embedded library made it stop propagating."""
    logger = logging.getLogger("curverbd.capi")
    logger.addHandler(caplog.handler)
    caplog.set_level(logging.INFO, logger="curverbd.capi")
    yield caplog
    logger.removeHandler(caplog.handler)


def call_onerror(exc: BaseException):
    try:
        raise exc
    except BaseException:
        return _onerror("crbd_py_test")(*sys.exc_info())


def test_error_becomes_its_negative_errno(capi_log):
    caplog = capi_log
    assert call_onerror(Error(errno.ENOENT, "image pool/x does not exist")) == -errno.ENOENT
    assert "crbd_py_test: image pool/x does not exist" in caplog.text
    assert "Traceback" not in caplog.text


def test_other_oserrors_keep_their_errno():
    assert call_onerror(PermissionError(errno.EACCES, "denied")) == -errno.EACCES


def test_anything_else_is_eio_with_a_traceback(capi_log):
    caplog = capi_log
    assert call_onerror(ValueError("bug")) is None        # None -> the def_extern's error=-EIO
    assert "crbd_py_test failed" in caplog.text and "ValueError: bug" in caplog.text
