"""The C face of tests/test_snapshot_semantics.py: one script run through our rbd module and through
Debian's python3-rbd (Pacific's Cython binding) over our librbd.so.1, so rbd_diff_iterate2,
rbd_remove_with_progress, rbd_trash_remove_with_progress and rbd_snap_remove2 are exercised with
librbd's own caller. Each observation is a value or the exact exception class and errno."""
from __future__ import annotations

import pytest

from capi_helpers import make_pool
from faces import FACES, OUTCOME, differences, observe

BODY = r'''
import json
import rados, rbd
''' + OUTCOME + r'''
out = {}
with rados.Rados(conffile="") as cluster, cluster.open_ioctx("sem") as ioctx:
    r = rbd.RBD()
    r.create(ioctx, "d", 4 << 20)
    with rbd.Image(ioctx, "d") as img:
        img.write(b"\xab" * 256, 0)
        extents = []
        img.diff_iterate(0, img.size(), None, lambda *e: extents.append(list(e)))
        out["diff_256"] = extents
        img.create_snap("s")
        img.write(b"\xab\xab\xcd", 10)
        extents = []
        img.diff_iterate(0, img.size(), "s", lambda *e: extents.append(list(e)))
        out["diff_from_snap"] = extents
        extents = []
        img.diff_iterate(0, img.size(), "s", lambda *e: extents.append(list(e)), whole_object=True)
        out["diff_whole_object"] = extents
        img.protect_snap("s")
        out["remove_snap2_protected"] = outcome(img.remove_snap2, "s", 0)
        out["remove_snap2_unprotect"] = outcome(img.remove_snap2, "s", rbd.RBD_SNAP_REMOVE_UNPROTECT)
        out["snaps_left"] = [s["name"] for s in img.list_snaps()]
    calls = []
    out["remove_cancel"] = outcome(r.remove, ioctx, "d", on_progress=lambda d, t: calls.append([d, t]) or 1)
    out["remove_cancel_calls"] = calls
    out["kept"] = r.list(ioctx)
    calls = []
    out["remove"] = outcome(r.remove, ioctx, "d", on_progress=lambda d, t: calls.append([d, t]) or 0)
    out["remove_calls"] = calls
    r.create(ioctx, "t", 1 << 20)
    r.trash_move(ioctx, "t", 0)
    trash_id = [e["id"] for e in r.trash_list(ioctx)][0]
    out["trash_remove_cancel"] = outcome(r.trash_remove, ioctx, trash_id, on_progress=lambda d, t: 1)
    out["trash_kept"] = len(list(r.trash_list(ioctx)))
    calls = []
    out["trash_remove"] = outcome(r.trash_remove, ioctx, trash_id, on_progress=lambda d, t: calls.append([d, t]) or 0)
    out["trash_remove_calls"] = calls
    r.create(ioctx, "p", 1 << 20)
    with rbd.Image(ioctx, "p") as img:
        img.create_snap("s")
        img.protect_snap("s")
    r.clone(ioctx, "p", "s", ioctx, "c")
    out["remove_parent_with_snap_and_clone"] = outcome(r.remove, ioctx, "p")
    with rbd.Image(ioctx, "p") as img:
        img.create_snap("v")
    out["clone_format_1_unprotected"] = outcome(r.clone, ioctx, "p", "v", ioctx, "c1")
    # Pacific's binding before 16.2.? has no clone_format argument (Debian's gives TypeError)
    out["clone_option_format_2"] = outcome(r.clone, ioctx, "p", "v", ioctx, "c1", clone_format=2)
    if "c1" in r.list(ioctx):
        r.remove(ioctx, "c1")
    with rbd.Image(ioctx, "p") as img:
        img.remove_snap("v")
    cluster.conf_set("rbd_default_clone_format", "2")
    with rbd.Image(ioctx, "p") as img:
        img.create_snap("u")
    out["clone_format_2"] = outcome(r.clone, ioctx, "p", "u", ioctx, "c2")
    with rbd.Image(ioctx, "p") as img:
        out["remove_snap_with_clone2"] = outcome(img.remove_snap, "u")
        out["user_snaps"] = sorted(s["name"] for s in img.list_snaps() if s["name"] in ("s", "u"))
    r.remove(ioctx, "c2")
    r.remove(ioctx, "c")
    with rbd.Image(ioctx, "p") as img:
        out["snaps_after_clones"] = [s["name"] for s in img.list_snaps()]
print(json.dumps(out))
'''

EXPECTED = {
    "diff_256": [[0, 256, True]],
    "diff_from_snap": [[12, 1, True]],
    "diff_whole_object": [[0, 4 << 20, True]],
    "remove_snap2_protected": ["ImageBusy", 16],
    "remove_snap2_unprotect": ["ok", None],
    "snaps_left": [],
    "remove_cancel": ["OperationCanceled", 125],
    "remove_cancel_calls": [[0, 1]],
    "kept": ["d"],
    "remove": ["ok", None],
    "remove_calls": [[0, 1], [1, 1]],
    "trash_remove_cancel": ["OperationCanceled", 125],
    "trash_kept": 1,
    "trash_remove": ["ok", None],
    "trash_remove_calls": [[0, 1], [1, 1]],
    "remove_parent_with_snap_and_clone": ["ImageHasSnapshots", 39],
    "clone_format_1_unprotected": ["InvalidArgument", 22],
    "clone_option_format_2": ["ok", None],
    "clone_format_2": ["ok", None],
    "remove_snap_with_clone2": ["ok", None],
    "user_snaps": ["s"],
    "snaps_after_clones": ["s"],
}


@pytest.mark.parametrize("face", FACES)
def test_snapshot_semantics_faces(face, daemon, rbd_env, tmp_path):
    make_pool(daemon, "sem")
    expected = dict(EXPECTED)
    if face == "debian":
        expected["clone_option_format_2"] = ["TypeError", None]   # its clone() lacks the argument
    assert not differences(observe(face, BODY, rbd_env, tmp_path), expected)
