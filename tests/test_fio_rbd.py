"""fio 3.33's rbd engine (eventfd completion path) on our libraries: random writes with
crc32c verification, then a separate verify-only run over the same image."""
from __future__ import annotations

from capi_helpers import make_image, make_pool, run

MiB = 1 << 20


def fio(env: dict, cwd, *extra: str) -> str:
    args = ["fio", "--name=job", "--ioengine=rbd", "--clientname=admin", "--pool=pool", "--rbdname=img",
            "--rw=randwrite", "--bs=4k", "--size=32M", "--iodepth=16", "--verify=crc32c",
            "--randrepeat=1", "--randseed=42", "--output-format=terse", "--terse-version=3", *extra]
    proc = run(args, env, cwd=cwd)   # fio leaves *-verify.state files in its cwd
    assert "verify" not in proc.stderr.lower() or "bad" not in proc.stderr.lower(), proc.stderr
    return proc.stdout


def terse_errors(out: str) -> int:
    # terse v3: field 5 is the job's error
    return int(out.strip().splitlines()[-1].split(";")[4])


def test_randwrite_verify_then_verify_only(daemon, rbd_env, tmp_path):
    make_pool(daemon, "pool")
    make_image(daemon, "pool", "img", 48 * MiB)
    assert terse_errors(fio(rbd_env, tmp_path)) == 0
    assert terse_errors(fio(rbd_env, tmp_path, "--verify_only")) == 0


def test_verify_only_detects_other_data(daemon, rbd_env, tmp_path):
    """The verify-only run can fail: on an image never written, every block is bad."""
    make_pool(daemon, "pool")
    make_image(daemon, "pool", "img", 48 * MiB)
    args = ["fio", "--name=job", "--ioengine=rbd", "--clientname=admin", "--pool=pool", "--rbdname=img",
            "--rw=randwrite", "--bs=4k", "--size=4M", "--iodepth=4", "--verify=crc32c", "--verify_only"]
    proc = run(args, rbd_env, check=False, cwd=tmp_path)
    assert proc.returncode != 0
    assert "verify: bad magic header" in proc.stdout + proc.stderr


def test_unaligned_block_sizes_and_trim(daemon, rbd_env, tmp_path):
    make_pool(daemon, "pool")
    make_image(daemon, "pool", "img", 48 * MiB)
    args = ["fio", "--name=job", "--ioengine=rbd", "--clientname=admin", "--pool=pool", "--rbdname=img",
            "--rw=randwrite", "--bsrange=512-12k", "--size=8M", "--iodepth=8", "--verify=crc32c",
            "--randseed=7", "--output-format=terse", "--terse-version=3"]
    assert terse_errors(run(args, rbd_env, cwd=tmp_path).stdout) == 0
    trim = ["fio", "--name=trim", "--ioengine=rbd", "--clientname=admin", "--pool=pool", "--rbdname=img",
            "--rw=randtrim", "--bs=8k", "--size=8M", "--iodepth=8", "--output-format=terse",
            "--terse-version=3"]
    assert terse_errors(run(trim, rbd_env, cwd=tmp_path).stdout) == 0


def test_two_jobs_forked_and_threaded(daemon, rbd_env, tmp_path):
    """Jobs as forked processes (the parent already started Python: the fork hooks) and as
    threads of one process (two cluster handles opening the same image)."""
    make_pool(daemon, "pool")
    make_image(daemon, "pool", "img", 64 * MiB)
    for mode in ([], ["--thread"]):
        args = ["fio", "--name=job", "--ioengine=rbd", "--clientname=admin", "--pool=pool", "--rbdname=img",
                "--rw=randwrite", "--bs=4k", "--size=8M", "--iodepth=8", "--numjobs=2", "--offset_increment=16M",
                "--verify=crc32c", "--output-format=terse", "--terse-version=3", *mode]
        lines = run(args, rbd_env, cwd=tmp_path).stdout.strip().splitlines()
        assert [int(line.split(";")[4]) for line in lines] == [0, 0]
