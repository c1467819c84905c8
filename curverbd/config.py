"""Ceph-style configuration: ceph.conf sections, explicit settings, our own keys.

A value is looked up, highest precedence first, in: the environment (only for
keys that have an env variable, e.g. CURVERBD_SOCKET: an operator's override
of where the daemon is must beat whatever a client's spec or conf says),
explicit ``set()`` calls (``rados_conf_set``, ``key=value`` options of an
``rbd:`` spec), the conf file's ``[client.<id>]``, ``[client]`` and ``[global]`` sections,
then built-in defaults. Keys are normalised the way Ceph does it, so
``rbd cache``, ``rbd-cache`` and ``rbd_cache`` are one key. Unknown keys are
accepted and kept: QEMU and libvirt set many Ceph keys that mean nothing here.
"""
from __future__ import annotations

import errno
import os
import re
from collections.abc import Iterable

from .errors import Error

DEFAULT_CONF = "/etc/ceph/ceph.conf"
DEFAULT_SOCKET = "/data/nebd/nebd.sock"  # nebd-server's default listen.address
CURVE_CLIENT_CONF = "/etc/curve/client.conf"   # Curve's own client conf on its hosts
CURVE_MDS_CONF = "/etc/curve/mds.conf"         # on MDS hosts: where the cluster's etcd is
CURVE_TOOLS_CONF = "/etc/curve/tools.conf"     # Curve's admin tools: where snapshotcloneserver is

_UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40, "P": 1 << 50}


def parse_size(text: str) -> int:
    """'4096', '10G', '1GiB', '20T' -> bytes (binary units); ValueError otherwise."""
    m = re.fullmatch(r"\s*(\d+)\s*([KMGTP]?)(?:i?B)?\s*", str(text), re.IGNORECASE)
    if not m:
        raise ValueError(f"not a size: {text!r}")
    return int(m.group(1)) * _UNITS[m.group(2).upper()]


def curve_conf_value(path: str, key: str) -> str | None:
    """``key`` of a Curve conf file (``key=value`` lines, ``#`` comments), or None."""
    try:
        with open(path, encoding="utf-8") as f:
            for line in f:
                name, eq, value = line.split("#", 1)[0].partition("=")
                if eq and name.strip() == key:
                    return value.strip()
    except OSError:
        pass
    return None


def user_id(name: str) -> str:
    """``client.NAME`` -> ``NAME`` (a bare NAME is returned as is)."""
    return name[len("client."):] if name.startswith("client.") else name


# Built-in defaults of the keys we know; any other key reads as unset.
DEFAULTS: dict[str, str] = {
    "curverbd_socket": DEFAULT_SOCKET,
    "log_file": "",
    # every rbd_default_* key answers, as Ceph's conf_get does: Ceph's default, or what curverbd does
    "rbd_default_features": "1",   # layering: what the core implements (Ceph: 61)
    "rbd_default_order": "22",
    "rbd_default_format": "2",
    "rbd_default_stripe_unit": "0",
    "rbd_default_stripe_count": "0",
    "rbd_default_data_pool": "",
    "rbd_default_clone_format": "auto",
    "rbd_default_map_options": "",
    "rbd_default_pool": "rbd",
    "rbd_disable_zero_copy_writes": "true",   # librbd copies an aio write's buffer at submission
    "rbd_cache": "true",
    # how long a data connection's receiver polls for a reply before it sleeps, at queue depth 1
    # (it stops by itself while polling catches nothing); 0: never
    "curverbd_busy_poll_us": "40",
}

# Keys an environment variable overrides (over everything else).
ENV_KEYS: dict[str, str] = {"curverbd_socket": "CURVERBD_SOCKET"}

_SECTION = re.compile(r"^\[\s*([^\]]+?)\s*\]\s*(?:[#;].*)?$")


def normalise_key(key: str) -> str:
    """Ceph's key equivalence: runs of spaces, '-' and '_' are all one '_'."""
    return re.sub(r"[\s_-]+", "_", key.strip()).lower()


def parse_pairs(text: str, sep: str = ",") -> dict[str, str]:
    """``"a=1,b=2"`` -> {"a": "1", "b": "2"}; Error(EINVAL) for an item without '='."""
    pairs: dict[str, str] = {}
    for item in filter(None, (part.strip() for part in text.split(sep))):
        key, eq, value = item.partition("=")
        if not eq or not key.strip():
            raise Error(errno.EINVAL, f"config option {item!r}: expected key=value")
        pairs[normalise_key(key)] = value.strip()
    return pairs


def parse_conf(text: str, source: str = "<conf>") -> dict[str, dict[str, str]]:
    """Sections of a ceph.conf text: {section: {normalised key: value}}."""
    sections: dict[str, dict[str, str]] = {}
    current: dict[str, str] | None = None
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i].strip()
        i += 1
        while line.endswith("\\") and i < len(lines):  # line continuation
            line = line[:-1] + lines[i].strip()
            i += 1
        if not line or line[0] in "#;":
            continue
        match = _SECTION.match(line)
        if match:
            current = sections.setdefault(match.group(1).strip(), {})
            continue
        key, eq, value = line.partition("=")
        if not eq:
            raise Error(errno.EINVAL, f"{source}:{i}: expected 'key = value' or '[section]', got {line!r}")
        if current is None:
            current = sections.setdefault("global", {})
        current[normalise_key(key)] = _strip_value(value)
    return sections


def _strip_value(value: str) -> str:
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        return value[1:-1]
    for mark in ("#", ";"):  # inline comment, Ceph accepts both
        cut = value.find(mark)
        if cut >= 0:
            value = value[:cut].rstrip()
    return value


class Config:
    """The configuration of one client (``client.<id>``)."""

    def __init__(self, user: str = "admin", cluster: str = "ceph") -> None:
        self.user = user
        self.cluster = cluster
        self.path: str | None = None           # the conf file read, if any
        self._file: dict[str, str] = {}        # merged sections of that file
        self._set: dict[str, str] = {}         # explicit settings

    @property
    def name(self) -> str:
        return f"client.{self.user}"

    def default_paths(self) -> list[str]:
        """Where a conf file is looked for when none is named: $CEPH_CONF, then /etc/ceph/ceph.conf."""
        env = os.environ.get("CEPH_CONF")
        return [env] if env else [DEFAULT_CONF]

    def read_file(self, path: str | None = None, missing_ok: bool = False) -> str | None:
        """Read ``path`` (or the first existing default); returns the path read.

        A named file that is missing is Error(ENOENT). With no name and no default
        file present: Error(ENOENT), or None when ``missing_ok``.
        """
        if path:
            candidates = [p.strip() for p in path.split(",") if p.strip()]  # Ceph accepts a list
            found = next((p for p in candidates if os.path.exists(p)), None)
            if found is None:
                raise Error(errno.ENOENT, f"conf file {path!r} does not exist")
        else:
            found = next((p for p in self.default_paths() if os.path.exists(p)), None)
            if found is None:
                if missing_ok:
                    return None
                raise Error(errno.ENOENT, f"no conf file found (looked for {', '.join(self.default_paths())})")
        try:
            with open(found, encoding="utf-8") as f:
                text = f.read()
        except OSError as exc:
            raise Error(exc.errno or errno.EIO, f"conf file {found!r}: {exc.strerror}") from exc
        sections = parse_conf(text, found)
        merged: dict[str, str] = {}
        for section in ("global", "client", self.name):  # later sections win
            merged.update(sections.get(section, {}))
        self._file = merged
        self.path = found
        return found

    def set(self, key: str, value) -> None:
        """Set ``key`` explicitly (wins over the file and defaults). Unknown keys are kept."""
        if not key or not key.strip():
            raise Error(errno.EINVAL, "config option name is empty")
        self._set[normalise_key(key)] = "" if value is None else str(value)

    def set_pairs(self, pairs: dict[str, str] | Iterable[str]) -> None:
        """Apply ``{key: value}`` or an iterable of ``"key=value"`` strings."""
        if not isinstance(pairs, dict):
            pairs = parse_pairs(",".join(pairs))
        for key, value in pairs.items():
            self.set(key, value)

    def get(self, key: str) -> str:
        """The value of ``key``; Error(ENOENT) if it is unknown and unset."""
        value = self.lookup(key)
        if value is None:
            raise Error(errno.ENOENT, f"config option {key!r} is not set")
        return value

    def lookup(self, key: str) -> str | None:
        """Like get(), but None for an unknown, unset key."""
        key = normalise_key(key)
        env = ENV_KEYS.get(key)
        if env and os.environ.get(env):
            return os.environ[env]
        if key in self._set:
            return self._expand(self._set[key])
        if key in self._file:
            return self._expand(self._file[key])
        return DEFAULTS.get(key)

    def _expand(self, value: str) -> str:
        """Ceph's metavariables in values: $cluster, $type, $id, $name."""
        if "$" not in value:
            return value
        for var, sub in (("$cluster", self.cluster), ("$name", self.name), ("$type", "client"), ("$id", self.user)):
            value = value.replace(var, sub)
        return value

    @property
    def socket(self) -> str:
        """The curverbd-server (nebd) socket path."""
        return self.lookup("curverbd_socket") or DEFAULT_SOCKET

    def mds_addrs(self) -> tuple[str, str]:
        """(Curve MDS addresses, where they came from): the conf key ``curve_mds_addrs``, else env
        CURVERBD_MDS, else ``mds.listen.addr`` of Curve's /etc/curve/client.conf, else the
        embedded daemon's MDS socket (the nebd socket + ".mds")."""
        return self._located("curve_mds_addrs", "CURVERBD_MDS", CURVE_CLIENT_CONF, "mds.listen.addr",
                             self.socket + ".mds", "curverbd_socket + .mds")

    def etcd_endpoints(self) -> tuple[str, str]:
        """(etcd endpoints of the RBD state home, where they came from): the conf key
        ``curve_etcd_endpoints``, else env CURVERBD_ETCD, else ``mds.etcd.endpoint`` of Curve's
        /etc/curve/mds.conf, else the embedded daemon's etcd socket (the nebd socket + ".etcd")."""
        return self._located("curve_etcd_endpoints", "CURVERBD_ETCD", CURVE_MDS_CONF, "mds.etcd.endpoint",
                             "unix://" + self.socket + ".etcd", "curverbd_socket + .etcd")

    def snapshotclone_addrs(self) -> tuple[str, str]:
        """(snapshotcloneserver addresses, where they came from): the conf key ``curve_snapshotclone_addr``,
        else env CURVERBD_SNAPSHOTCLONE, else ``snapshotCloneAddr`` of Curve's /etc/curve/tools.conf, else
        the address the embedded daemon wrote next to its socket (``<socket>.snapshotclone``)."""
        value, source = self._located("curve_snapshotclone_addr", "CURVERBD_SNAPSHOTCLONE", CURVE_TOOLS_CONF,
                                      "snapshotCloneAddr", "", "")
        if value:
            return value, source
        path = self.socket + ".snapshotclone"
        try:
            with open(path, encoding="utf-8") as f:
                return f.read().strip(), f"the embedded daemon ({path})"
        except OSError:
            return "", f"nowhere (no curve_snapshotclone_addr, no {CURVE_TOOLS_CONF}, no {path})"

    def _located(self, key: str, env: str, curve_conf: str, curve_key: str, default: str,
                 default_source: str) -> tuple[str, str]:
        """(value, where it came from) of a Curve address: our conf key, our env variable, Curve's own
        conf file on this host, then the embedded daemon's."""
        value = self.lookup(key)
        if value:
            return value, f"conf key {key} ({self.path or 'set'})"
        if os.environ.get(env):
            return os.environ[env], f"env {env}"
        value = curve_conf_value(curve_conf, curve_key)
        if value:
            return value, f"{curve_key} in {curve_conf}"
        return default, f"the embedded daemon ({default_source})"

    def password(self) -> str:
        """The owner's Curve password: Ceph's secret (``key``, or the ``keyring`` file's entry for
        this user). Curve checks it for root only."""
        key = self.lookup("key")
        if key:
            return key
        keyring = self.lookup("keyring")
        for path in (keyring.split(",") if keyring else []):
            try:
                with open(path.strip(), encoding="utf-8") as f:
                    sections = parse_conf(f.read(), path)
            except OSError:
                continue
            found = sections.get(self.name, {}).get("key")
            if found:
                return found
        return ""

    def items(self) -> dict[str, str]:
        """Every key with a value (defaults, file, explicit settings), for `config show`-like output."""
        keys = set(DEFAULTS) | set(self._file) | set(self._set)
        return {k: self.lookup(k) or "" for k in sorted(keys)}
