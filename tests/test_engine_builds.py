"""The per-user cache of C engine builds made from checkouts: other trees' builds nobody used for a week
are removed when a new build lands; recent ones and the one in use stay."""
import os
import time

from curverbd.core import engine


def make_build(root, name, age_days):
    path = root / name
    (path).mkdir()
    (path / engine.LIBRARY).write_bytes(b"\x7fELF")
    (root / (name + ".lock")).write_text("")
    when = time.time() - age_days * 86400
    os.utime(path, (when, when))
    return path


def test_stale_builds_of_other_trees_are_pruned(tmp_path):
    keep = make_build(tmp_path, "lib-aaaa", 30)          # the one just built: kept however old
    old = make_build(tmp_path, "lib-bbbb", engine.UNUSED_BUILD_DAYS + 1)
    recent = make_build(tmp_path, "lib-cccc", engine.UNUSED_BUILD_DAYS - 1)
    engine._prune_builds(str(tmp_path), str(keep))
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "lib-aaaa", "lib-aaaa.lock", "lib-cccc", "lib-cccc.lock"]
    assert not old.exists() and recent.exists()


def test_using_a_build_marks_it_fresh(monkeypatch):
    monkeypatch.delenv("CURVERBD_LIB_DIR", raising=False)
    path = engine.library_dir()          # this checkout's build
    assert os.path.exists(os.path.join(path, engine.LIBRARY))
    assert time.time() - os.path.getmtime(path) < 60
