"""The exported C functions given hostile arguments: absurd sizes and offsets, lengths that are
negative numbers cast to size_t, NULL buffers, a closed image's handle, a completion used after
its image closed. Every call returns a negative errno (or clips like librbd); the image stays
usable and the process never crashes (a crash fails the whole session, loudly)."""
from __future__ import annotations

import errno


from test_capi_abi import SIZE, abi, handles, image, log_file, pread, pwrite  # noqa: F401

SIZE_MAX = 2**64 - 1


def test_absurd_offsets_and_lengths(image):  # noqa: F811
    ffi, lib, img = image.ffi, image.lib, image.image
    buf = ffi.new("char[]", 4096)
    assert lib.rbd_read(img, SIZE + 1, 10, buf) == -errno.EINVAL               # offset beyond the end
    assert lib.rbd_read(img, 2**63, 10, buf) == -errno.EINVAL
    assert lib.rbd_read(img, SIZE_MAX, 1, buf) == -errno.EINVAL
    assert lib.rbd_write(img, SIZE_MAX - 5, 10, buf) == -errno.EINVAL          # offset + length wraps
    assert lib.rbd_discard(img, SIZE_MAX - 5, 10) == -errno.EINVAL
    assert lib.rbd_write_zeroes(img, 2**63, 4096, 0, 0) == -errno.EINVAL
    # a negative length (as size_t) from the very end: clipped to nothing, like librbd
    assert lib.rbd_read(img, SIZE, SIZE_MAX, buf) in (0, -errno.EINVAL)
    assert pwrite(image, 0, b"still fine") == 10
    assert pread(image, 0, 10) == b"still fine"


def test_null_buffers(image):  # noqa: F811
    ffi, lib, img = image.ffi, image.lib, image.image
    assert lib.rbd_read(img, 0, 4096, ffi.NULL) == -errno.EINVAL
    assert lib.rbd_write(img, 0, 4096, ffi.NULL) == -errno.EINVAL
    c = ffi.new("rbd_completion_t *")
    assert lib.rbd_aio_create_completion(ffi.NULL, ffi.NULL, c) == 0
    assert lib.rbd_aio_write(img, 0, 4096, ffi.NULL, c[0]) == -errno.EINVAL
    assert lib.rbd_aio_read(img, 0, 4096, ffi.NULL, c[0]) == -errno.EINVAL
    assert lib.rbd_aio_write(img, 0, 4096, b"x" * 4096, ffi.NULL) == -errno.EINVAL   # no completion
    lib.rbd_aio_release(c[0])
    assert lib.rbd_stat(img, ffi.NULL, 0) < 0
    assert lib.rbd_get_size(img, ffi.NULL) == -errno.EINVAL


def test_closed_image_handle_is_refused(image):  # noqa: F811
    ffi, lib = image.ffi, image.lib
    out = ffi.new("rbd_image_t *")
    assert lib.rbd_open(image.ioctx, b"img", out, ffi.NULL) == 0
    second = out[0]
    assert lib.rbd_close(second) == 0
    # the handle of a closed image must not be usable (memory may be reused, but not silently as an image)
    buf = ffi.new("char[]", 16)
    assert lib.rbd_read(second, 0, 16, buf) < 0
    assert lib.rbd_close(second) < 0
    assert pread(image, 0, 4) == bytes(4)   # the first handle is untouched
