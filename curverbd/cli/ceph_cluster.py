"""ceph df, mon dump, status (-s), fsid, version: the cluster as Ceph's tools show it.

There are no monitors: clients reach curverbd-server on its unix socket. ``mon
dump`` still lists one monitor, at the placeholder address 127.0.0.1:6789,
because nova and cinder parse ``mons[].addr`` (``host:port/nonce``) into the
libvirt disk XML; our librbd ignores those hosts.
"""
from __future__ import annotations

import argparse
import json
import sys
import time

from .. import __version__
from ..core.monitor import mon_command
from ..errors import Error
from .common import connected, emit, format_size, table

CEPH_VERSION = "16.2.15"
CEPH_RELEASE = "pacific"
MON_NAME = "curverbd"
MON_HOST, MON_V1_PORT, MON_V2_PORT = "127.0.0.1", 6789, 3300


def version_string() -> str:
    return f"ceph version {CEPH_VERSION} (curverbd {__version__}) {CEPH_RELEASE} (stable)"


def monitor_command(cluster, prefix: str, **args) -> dict:
    """Run a monitor command through the one implementation the rados module answers with."""
    ret, out, message = mon_command(cluster, json.dumps({"prefix": prefix, "format": "json", **args}))
    if ret < 0:
        raise Error(-ret, message)
    return json.loads(out)


def cmd_df(args: argparse.Namespace) -> int:
    with connected(args) as cluster:
        data = monitor_command(cluster, "df")
    stats = data["stats"]
    used_pct = 100.0 * stats["total_used_raw_ratio"]
    raw = table(["CLASS", "SIZE", "AVAIL", "USED", "RAW USED", "%RAW USED"],
                [[name, format_size(stats["total_bytes"]), format_size(stats["total_avail_bytes"]),
                  format_size(stats["total_used_bytes"]), format_size(stats["total_used_raw_bytes"]),
                  f"{used_pct:.2f}"] for name in ("curve", "TOTAL")])
    pools = table(["POOL", "ID", "PGS", "STORED", "OBJECTS", "USED", "%USED", "MAX AVAIL"],
                  [[p["name"], p["id"], 1, format_size(p["stats"]["stored"]), p["stats"]["objects"],
                    format_size(p["stats"]["bytes_used"]), f"{100 * p['stats']['percent_used']:.2f}",
                    format_size(p["stats"]["max_avail"])] for p in data["pools"]])
    emit(args, data, f"--- RAW STORAGE ---\n{raw}\n\n--- POOLS ---\n{pools}", root="stats")
    return 0


def mon_map(fsid: str) -> dict:
    """Ceph's monmap JSON with the one placeholder monitor."""
    now = time.strftime("%Y-%m-%dT%H:%M:%S.000000+0000", time.gmtime())
    v1 = f"{MON_HOST}:{MON_V1_PORT}"
    return {
        "epoch": 1, "fsid": fsid, "modified": now, "created": now,
        "min_mon_release": 16, "min_mon_release_name": CEPH_RELEASE, "election_strategy": 1,
        "stretch_mode": False, "tiebreaker_mon": "",
        "features": {"persistent": [CEPH_RELEASE], "optional": []},
        "mons": [{
            "rank": 0, "name": MON_NAME,
            "public_addrs": {"addrvec": [{"type": "v2", "addr": f"{MON_HOST}:{MON_V2_PORT}", "nonce": 0},
                                         {"type": "v1", "addr": v1, "nonce": 0}]},
            "addr": f"{v1}/0", "public_addr": f"{v1}/0", "priority": 0, "weight": 0, "crush_location": "{}",
        }],
        "quorum": [0],
    }


def cmd_mon_dump(args: argparse.Namespace) -> int:
    with connected(args) as cluster:
        data = mon_map(cluster.fsid())
    mon = data["mons"][0]
    addrs = ",".join(f"{a['type']}:{a['addr']}/{a['nonce']}" for a in mon["public_addrs"]["addrvec"])
    plain = "\n".join([f"epoch {data['epoch']}", f"fsid {data['fsid']}", f"last_changed {data['modified']}",
                       f"created {data['created']}", f"min_mon_release 16 ({CEPH_RELEASE})",
                       "election_strategy: 1", f"0: [{addrs}] mon.{MON_NAME}"])
    emit(args, data, plain, root="monmap")
    sys.stderr.write(f"dumped monmap epoch {data['epoch']}\n")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    with connected(args) as cluster:
        stat = cluster.stat()
        df = monitor_command(cluster, "df")
        socket = cluster.socket_path
    objects = sum(p["stats"]["objects"] for p in df["pools"])
    data = {
        "fsid": stat["fsid"],
        "health": {"status": "HEALTH_OK", "checks": {}, "mutes": []},
        "election_epoch": 1, "quorum": [0], "quorum_names": [MON_NAME], "quorum_age": 0,
        "monmap": {"epoch": 1, "min_mon_release_name": CEPH_RELEASE, "num_mons": 1},
        "osdmap": {"epoch": 1, "num_osds": 1, "num_up_osds": 1, "num_in_osds": 1, "num_remapped_pgs": 0},
        "pgmap": {"pgs_by_state": [], "num_pgs": 0, "num_pools": len(df["pools"]), "num_objects": objects,
                  "data_bytes": stat["bytes_used"], "bytes_used": stat["bytes_used"],
                  "bytes_avail": stat["bytes_avail"], "bytes_total": stat["bytes_total"]},
        "curverbd": {"socket": socket, "version": __version__},
    }
    plain = "\n".join([
        "  cluster:", f"    id:     {stat['fsid']}", "    health: HEALTH_OK", "",
        "  services:", f"    mon: 1 daemons, quorum {MON_NAME} (curverbd-server at {socket})",
        "    osd: 1 osds: 1 up, 1 in", "",
        "  data:", f"    pools:   {len(df['pools'])} pools, 0 pgs", f"    objects: {objects} images",
        f"    usage:   {format_size(stat['bytes_used'])} used, {format_size(stat['bytes_avail'])} / "
        f"{format_size(stat['bytes_total'])} avail"])
    emit(args, data, plain, root="status")
    return 0


def cmd_fsid(args: argparse.Namespace) -> int:
    with connected(args) as cluster:
        fsid = cluster.fsid()
    emit(args, {"fsid": fsid}, fsid, root="fsid")
    return 0


def cmd_version(args: argparse.Namespace) -> int:
    emit(args, {"version": version_string()}, version_string(), root="version")
    return 0


def register(sub) -> None:
    """Add the cluster commands to the ceph command's subparsers."""
    p = sub.add_parser("df", help="cluster and pool capacity")
    p.add_argument("detail", nargs="?", choices=("detail",))
    p.set_defaults(handler=cmd_df, what="df")
    mon = sub.add_parser("mon", help="monitor commands").add_subparsers(dest="mon_command", required=True,
                                                                        metavar="<mon command>")
    p = mon.add_parser("dump", help="the monitor map")
    p.add_argument("epoch", nargs="?", type=int)
    p.set_defaults(handler=cmd_mon_dump, what="mon dump")
    p = sub.add_parser("status", help="cluster summary")
    p.set_defaults(handler=cmd_status, what="status")
    p = sub.add_parser("fsid", help="the cluster id")
    p.set_defaults(handler=cmd_fsid, what="fsid")
    p = sub.add_parser("version", help="the version")
    p.set_defaults(handler=cmd_version, what="version")
