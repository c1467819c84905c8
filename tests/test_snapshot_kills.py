"""Snapshot, read at a snapshot, clone and flatten with the daemon (a one-machine Curve) killed at random
moments: after the restart each operation either completed or left nothing visible, and what is listed is
whole (a listed snapshot has its exact size and data, a listed clone its parent and its parent's bytes, and
no reader's view of a snapshot outlives its reader)."""
from __future__ import annotations

import random
import signal
import threading
import time

from curverbd.core import Cluster
from curverbd.errors import Error

MiB = 1 << 20
ROUNDS = 8


def test_snapshot_clone_flatten_survive_kills(daemon):
    rng = random.Random(11)
    c = Cluster()
    c.connect()
    c.create_pool("k")
    io = c.open_ioctx("k")
    try:
        for n in range(ROUNDS):
            size = (n + 2) * MiB + 512
            name, snap, child = f"img{n}", f"s{n}", f"c{n}"
            io.create_image(name, size)
            data = bytes([n + 1]) * 4096
            with io.open_image(name) as img:
                img.write(0, data)
            outcome: dict = {}

            def operations() -> None:
                try:
                    with io.open_image(name) as img:
                        img.create_snap(snap)
                        outcome["snap"] = True
                        img.protect_snap(snap)
                        img.write(0, b"\xee" * 4096)        # after the snapshot: not in it
                    with io.open_image(name, snapshot=snap) as view:   # through a read-only clone
                        outcome["view"] = view.read(0, 4096)
                    io.clone(name, snap, io, child)
                    outcome["clone"] = True
                    with io.open_image(child) as clone:
                        clone.flatten()
                    outcome["flatten"] = True
                except Error as exc:
                    outcome["error"] = exc

            worker = threading.Thread(target=operations)
            worker.start()
            time.sleep(rng.uniform(0, 0.05))
            daemon.restart(signal.SIGKILL)
            worker.join(60)
            assert not worker.is_alive(), "an operation hung across the restart"
            # whatever was done is whole; whatever was not left nothing behind
            with io.open_image(name) as img:
                snaps = {s["name"]: s for s in img.list_snaps()}
                assert set(snaps) <= {snap}
                if snap in snaps:
                    assert snaps[snap]["size"] == size
                    img.set_snap(snap)
                    assert img.read(0, 4096) == data
                else:
                    assert "snap" not in outcome
            images = io.list_images()
            if child in images:
                with io.open_image(child) as clone:
                    assert clone.size() == size
                    assert clone.read(0, 4096) == data
                    try:
                        assert clone.parent_info()[:3] == ("k", name, snap)
                    except Error:
                        pass                                  # flattened
            else:
                assert "clone" not in outcome
            assert "error" not in outcome, outcome["error"]  # the client rides the restart out
            assert outcome.get("view", data) == data
            views = [f["fileName"] for f in c._catalog.mds.listdir("/k") if f["fileName"].startswith(".rbd-snapview-")]
            assert views == [], views                         # each reader removed its own
    finally:
        c.shutdown()
