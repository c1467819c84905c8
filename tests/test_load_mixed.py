"""Load: 4 client processes x 4 images each, mixed unaligned I/O, every byte verified.

Each image is cut into stripes whose unaligned edges share 4 KiB blocks with the neighbouring stripes.
A client keeps a batch of operations in flight at once, each on a different stripe, so concurrent
read-modify-writes of one shared edge block are the common case (exactly where a lost update would
show); it keeps a model, and checks every read and finally every byte against it. The four clients
run at once against one daemon. CI runs it for a few seconds; CURVERBD_SLOW=1 runs it for minutes
(`CURVERBD_LOAD_SECONDS` to choose).

Images are not shared between clients: the padding's range lock is per client (as one VM owns its
disk); two hosts writing different bytes of one 4 KiB block at the same moment are not protected.
"""
from __future__ import annotations

import multiprocessing as mp
import os
import random
import time

from curverbd.core import Cluster

IMAGES = 4
CLIENTS = 4
STRIPE = 3 * 4096 + 1000        # not block-aligned: neighbours' stripes share edge blocks
SIZE = STRIPE * 256
IN_FLIGHT = 8
POOL = "load"


def _client(socket: str, index: int, seconds: float, seed: int, out) -> None:
    os.environ["CURVERBD_SOCKET"] = socket
    rng = random.Random(seed)
    cluster = Cluster(user="admin")
    cluster.connect()
    io = cluster.open_ioctx(POOL)
    images = [io.open_image(f"c{index}-img{i}") for i in range(IMAGES)]
    stripes = list(range(SIZE // STRIPE))
    models = [{s: bytearray(STRIPE) for s in stripes} for _ in images]
    counts = {"writes": 0, "zeroes": 0, "discards": 0, "reads": 0, "bytes_verified": 0, "mismatches": 0}
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        k = rng.randrange(IMAGES)
        img, model = images[k], models[k]
        batch = []   # (completion, stripe, start, expected bytes for reads or None)
        for s in rng.sample(stripes, IN_FLIGHT):
            start = rng.randrange(STRIPE)
            length = rng.randrange(1, STRIPE - start + 1)
            off = s * STRIPE + start
            op = rng.random()
            if op < 0.5:
                data = rng.randbytes(length)
                batch.append((img.aio_write(off, data), None))
                model[s][start:start + length] = data
                counts["writes"] += 1
            elif op < 0.6:
                batch.append((img.aio_write_zeroes(off, length), None))
                model[s][start:start + length] = bytes(length)
                counts["zeroes"] += 1
            elif op < 0.7:
                batch.append((img.aio_discard(off, length), None))
                model[s][start:start + length] = bytes(length)
                counts["discards"] += 1
            else:
                batch.append((img.aio_read(off, length), bytes(model[s][start:start + length])))
                counts["reads"] += 1
                counts["bytes_verified"] += length
        for completion, want in batch:
            assert completion.wait() >= 0
            if want is not None and bytes(completion.data) != want:
                counts["mismatches"] += 1
    for img, model in zip(images, models):   # final full check of every stripe
        for s, want in model.items():
            counts["bytes_verified"] += STRIPE
            if img.read(s * STRIPE, STRIPE) != bytes(want):
                counts["mismatches"] += 1
        img.close()
    cluster.shutdown()
    out.put(counts)


def test_four_clients_four_images_mixed_unaligned(daemon):
    seconds = float(os.environ.get("CURVERBD_LOAD_SECONDS",
                                   240 if os.environ.get("CURVERBD_SLOW") else 8))
    cluster = Cluster(user="admin")
    cluster.connect()
    cluster.create_pool(POOL)
    io = cluster.open_ioctx(POOL)
    for c in range(CLIENTS):
        for i in range(IMAGES):
            io.create_image(f"c{c}-img{i}", SIZE)
    cluster.shutdown()

    ctx = mp.get_context("spawn")   # fresh processes: no connection inherited through fork
    out = ctx.Queue()
    procs = [ctx.Process(target=_client, args=(daemon.socket, i, seconds, 1000 + i, out)) for i in range(CLIENTS)]
    for p in procs:
        p.start()
    results = [out.get(timeout=seconds + 300) for _ in procs]
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    total = {k: sum(r[k] for r in results) for k in results[0]}
    print(f"\nload: {CLIENTS} clients x {IMAGES} images, {seconds:.0f} s: {total}")
    assert total["mismatches"] == 0
    assert total["writes"] > 0 and total["reads"] > 0
