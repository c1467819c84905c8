"""ceph.conf reading and rbd: spec parsing."""
from __future__ import annotations

import errno

import pytest

from curverbd.config import DEFAULT_SOCKET, Config, normalise_key, parse_conf, parse_pairs
from curverbd.errors import Error
from curverbd.spec import ImageSpec, parse_image_spec, parse_rbd_filename, unescape, user_id

CONF = """
# a comment
; another
[global]
mon host = 10.0.0.1:6789   # inline comment
log-file = /var/log/global.log
curverbd socket = /run/global.sock
rbd_cache = true

[client]
rbd cache = false
log_file = "/var/log/$name.log"

[client.cinder]
curverbd_socket = /run/cinder.sock
keyring = /etc/ceph/ceph.client.cinder.keyring

[osd.1]
curverbd_socket = /run/osd.sock
"""


@pytest.fixture
def conf_file(tmp_path, monkeypatch):
    monkeypatch.delenv("CURVERBD_SOCKET", raising=False)
    monkeypatch.delenv("CEPH_CONF", raising=False)
    path = tmp_path / "ceph.conf"
    path.write_text(CONF)
    return str(path)


def test_key_normalisation():
    assert normalise_key("rbd cache") == normalise_key("rbd-cache") == normalise_key("rbd_cache") == "rbd_cache"
    assert normalise_key("  Mon  Host ") == "mon_host"


def test_sections_by_precedence(conf_file):
    admin = Config("admin")
    assert admin.read_file(conf_file) == conf_file
    assert admin.get("rbd cache") == "false"                  # [client] over [global]
    assert admin.get("mon_host") == "10.0.0.1:6789"           # inline comment dropped
    assert admin.get("log_file") == "/var/log/client.admin.log"  # quotes and $name
    assert admin.socket == "/run/global.sock"
    cinder = Config("cinder")
    cinder.read_file(conf_file)
    assert cinder.socket == "/run/cinder.sock"                # [client.cinder] over the rest
    assert cinder.get("keyring") == "/etc/ceph/ceph.client.cinder.keyring"
    assert admin.lookup("keyring") is None


def test_env_beats_everything(conf_file, monkeypatch):
    monkeypatch.delenv("CURVERBD_SOCKET", raising=False)
    c = Config("cinder")
    c.read_file(conf_file)
    c.set("curverbd-socket", "/run/set.sock")
    assert c.socket == "/run/set.sock"
    monkeypatch.setenv("CURVERBD_SOCKET", "/run/env.sock")
    assert c.socket == "/run/env.sock"
    assert c.get("curverbd_socket") == "/run/env.sock"


def test_defaults_and_unknown_keys(monkeypatch):
    monkeypatch.delenv("CURVERBD_SOCKET", raising=False)
    c = Config()
    assert c.socket == DEFAULT_SOCKET
    with pytest.raises(Error) as info:
        c.get("no_such_option")
    assert info.value.errno == errno.ENOENT
    c.set("rados_osd_op_timeout", 30)
    c.set("Some Unknown-Key", "v")
    assert c.get("rados osd op timeout") == "30"
    assert c.get("some_unknown_key") == "v"
    c.set_pairs(["a=1", "b = x=y"])
    assert c.get("a") == "1" and c.get("b") == "x=y"
    c.set_pairs({"c": "3"})
    assert c.get("c") == "3"
    assert parse_pairs("k1=v1, k-2 = v2") == {"k1": "v1", "k_2": "v2"}
    with pytest.raises(Error) as info:
        parse_pairs("novalue")
    assert info.value.errno == errno.EINVAL


def test_missing_named_file_is_enoent(tmp_path):
    missing = str(tmp_path / "nope.conf")
    with pytest.raises(Error) as info:
        Config().read_file(missing)
    assert info.value.errno == errno.ENOENT and missing in str(info.value)


def test_default_search(conf_file, monkeypatch, tmp_path):
    monkeypatch.setenv("CEPH_CONF", conf_file)
    c = Config()
    assert c.read_file() == conf_file
    monkeypatch.setenv("CEPH_CONF", str(tmp_path / "absent.conf"))
    assert Config().read_file(missing_ok=True) is None
    with pytest.raises(Error) as info:
        Config().read_file()
    assert info.value.errno == errno.ENOENT


def test_cluster_reads_conf_and_follows_socket(conf_file, monkeypatch):
    from curverbd.core import Cluster
    c = Cluster(user="client.cinder", conffile=conf_file)
    assert c.user == "cinder"
    assert c.conf_get("curverbd_socket") == "/run/cinder.sock"
    c.conf_set("curverbd_socket", "/run/x.sock")
    assert c.conf_get("curverbd socket") == "/run/x.sock"
    with pytest.raises(Error) as info:
        Cluster(conffile=conf_file + ".missing")
    assert info.value.errno == errno.ENOENT


def test_bad_conf_line():
    with pytest.raises(Error) as info:
        parse_conf("[global]\njust words\n", "x.conf")
    assert info.value.errno == errno.EINVAL and "x.conf:2" in str(info.value)


def test_continuation_and_keys_before_sections():
    sections = parse_conf("a = 1\n[client]\nlong = one \\\n two\n")
    assert sections["global"] == {"a": "1"}
    assert sections["client"]["long"] == "one two"


# --- specs -----------------------------------------------------------------------
@pytest.mark.parametrize("filename,expect", [
    ("rbd:pool/image", ImageSpec("pool", "image")),
    ("rbd:pool/image@snap", ImageSpec("pool", "image", snapshot="snap")),
    ("rbd:pool/ns/image@snap", ImageSpec("pool", "image", namespace="ns", snapshot="snap")),
    ("rbd:pool/image:id=cinder:conf=/etc/ceph/ceph.conf",
     ImageSpec("pool", "image", user="cinder", conf="/etc/ceph/ceph.conf")),
    ("rbd:pool/image@s:rbd_cache=false:mon_host=a\\:1\\,b",
     ImageSpec("pool", "image", snapshot="s", options={"rbd_cache": "false", "mon_host": "a:1,b"})),
    ("rbd:p\\/q/im\\:a\\@ge", ImageSpec("p/q", "im:a@ge")),
    ("rbd:pool/img:id=client.admin", ImageSpec("pool", "img", user="admin")),
    ("rbd:pool/img:k\\=ey=v\\=al", ImageSpec("pool", "img", options={"k=ey": "v=al"})),
    ("rbd:pool/img@snap:conf=/a@b/c.conf", ImageSpec("pool", "img", snapshot="snap", conf="/a@b/c.conf")),
])
def test_rbd_filenames(filename, expect):
    assert parse_rbd_filename(filename) == expect


@pytest.mark.parametrize("filename", ["pool/image", "rbd:", "rbd:pool", "rbd:/image", "rbd:pool/",
                                      "rbd:pool/image@", "rbd:pool/image:novalue"])
def test_bad_rbd_filenames(filename):
    with pytest.raises(Error) as info:
        parse_rbd_filename(filename)
    assert info.value.errno == errno.EINVAL


def test_cli_image_specs():
    assert parse_image_spec("img") == ImageSpec("rbd", "img")
    assert parse_image_spec("img@s", default_pool="p") == ImageSpec("p", "img", snapshot="s")
    assert parse_image_spec("p/img") == ImageSpec("p", "img")
    assert parse_image_spec("p/ns/img@s") == ImageSpec("p", "img", namespace="ns", snapshot="s")


def test_helpers():
    assert user_id("client.admin") == "admin"
    assert user_id("admin") == "admin"
    assert unescape("a\\:b\\\\c\\") == "a:b\\c\\"
