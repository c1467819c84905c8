"""Unix socket proxies in front of the daemon that see every baidu_std frame (tests' own framing)."""
from __future__ import annotations

import socket
import struct
import threading

from rawwire import fields


def route_clients(monkeypatch, daemon, nebd: "FrameProxy | None" = None, mds: "FrameProxy | None" = None) -> None:
    """Point this process's clients at proxies in front of ``daemon`` (at the daemon itself where None)."""
    monkeypatch.setenv("CURVERBD_SOCKET", nebd.path if nebd else daemon.socket)
    monkeypatch.setenv("CURVERBD_MDS", mds.path if mds else daemon.mds_socket)
    monkeypatch.setenv("CURVERBD_ETCD", "unix://" + daemon.etcd_socket)


def frame_meta(frame: bytes) -> dict[int, list]:
    """The RpcMeta fields of a whole frame."""
    return fields(frame[12:12 + struct.unpack(">I", frame[8:12])[0]])


def request_names(frame: bytes) -> tuple[str, str, int]:
    """(service, method, correlation id) of a request frame."""
    meta = frame_meta(frame)
    request = fields(meta[1][0])
    return request[1][0].decode(), request[2][0].decode(), meta[4][0]


class Link:
    """One client connection and its connection to the daemon."""

    def __init__(self, client: socket.socket, server: socket.socket) -> None:
        self.client, self.server = client, server
        self.lock = threading.Lock()             # both directions may write to the client
        self.methods: dict[int, str] = {}        # correlation id -> method, of the requests sent

    def to_client(self, data: bytes) -> None:
        with self.lock:
            self.client.sendall(data)

    def close(self) -> None:
        for s in (self.client, self.server):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class FrameProxy:
    """Forwards everything between clients on ``path`` and the daemon's socket ``target``. Subclasses see
    each request (``on_request``: False keeps it from the daemon) and each reply (``on_reply``: False
    drops it and closes the connection, as a daemon killed before answering would)."""

    def __init__(self, target: str, path: str) -> None:
        self.target, self.path = target, path
        self.listener = socket.socket(socket.AF_UNIX)
        self.listener.bind(path)
        self.listener.listen(64)
        threading.Thread(target=self._accept, daemon=True).start()

    def on_request(self, link: Link, frame: bytes) -> bool:
        return True

    def on_reply(self, link: Link, frame: bytes) -> bool:
        return True

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            server = socket.socket(socket.AF_UNIX)
            server.connect(self.target)
            link = Link(client, server)
            threading.Thread(target=self._pump, args=(link, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(link, False), daemon=True).start()

    def _pump(self, link: Link, upward: bool) -> None:
        src = link.client if upward else link.server
        try:
            for frame in _frames(src):
                if upward:
                    _, method, cid = request_names(frame)
                    link.methods[cid] = method
                    if self.on_request(link, frame):
                        link.server.sendall(frame)
                elif self.on_reply(link, frame):
                    link.to_client(frame)
                else:
                    break
        except OSError:
            pass
        link.close()

    def close(self) -> None:
        self.listener.close()


def _frames(sock: socket.socket):
    buf = b""
    while True:
        chunk = sock.recv(1 << 20)
        if not chunk:
            return
        buf += chunk
        while len(buf) >= 12 and len(buf) >= 12 + struct.unpack(">I", buf[4:8])[0]:
            size = 12 + struct.unpack(">I", buf[4:8])[0]
            yield buf[:size]
            buf = buf[size:]
