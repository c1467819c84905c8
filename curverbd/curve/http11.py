"""The HTTP/1.1 client side that etcd's JSON gateway and Curve's snapshot service need: one request
at a time on a kept-alive connection, replies sized by Content-Length, chunked (etcd's streaming
watch, and any reply over Go's 2 KiB buffer) or the connection's end.

Why not ``http.client``: importing it pulls in the ``email`` package and ``ssl``, about 30 ms, which
every QEMU, qemu-img and fio start pays in its first open (issue 15's budget for all of our start is
100 ms); neither TLS nor any of its other features is used here.
"""
from __future__ import annotations

import socket


class HTTPException(Exception):
    """A reply that is not HTTP/1.x as this client reads it."""


class RemoteDisconnected(ConnectionResetError, HTTPException):
    """The server closed the connection before any byte of the reply (an idle kept-alive one)."""


MAX_LINE = 65536


class Response:
    """One reply: ``status``, ``will_close`` and the body through ``read`` / ``read1``."""

    def __init__(self, rfile, method: str) -> None:
        self._rfile = rfile
        line = rfile.readline(MAX_LINE + 1)
        if not line:
            raise RemoteDisconnected("the server closed the connection without replying")
        parts = line.split(None, 2)
        if len(parts) < 2 or not parts[0].startswith(b"HTTP/1.") or not parts[1].isdigit():
            raise HTTPException(f"not an HTTP/1.x status line: {line[:80]!r}")
        self.status = int(parts[1])
        headers: dict[str, str] = {}
        while True:
            line = rfile.readline(MAX_LINE + 1)
            if not line:
                raise HTTPException("the connection ended inside the reply's headers")
            if line in (b"\r\n", b"\n"):
                break
            name, sep, value = line.decode("latin-1").partition(":")
            if not sep:
                raise HTTPException(f"not a header line: {line[:80]!r}")
            headers[name.strip().lower()] = value.strip()
        self.headers = headers
        chunked = headers.get("transfer-encoding", "").lower() == "chunked"
        length = headers.get("content-length")
        self._chunked = chunked
        self._chunk_left = 0                 # bytes left of the current chunk
        self._done = method == "HEAD" or self.status in (204, 304) or 100 <= self.status < 200
        self._left: int | None = None if chunked or length is None else int(length)
        if self._left == 0:
            self._done = True
        # no length and not chunked: the body runs to the connection's end
        self.will_close = (headers.get("connection", "").lower() == "close"
                           or (not chunked and length is None and not self._done)
                           or parts[0] == b"HTTP/1.0")

    def read1(self, n: int = 65536) -> bytes:
        """Up to ``n`` bytes of the body as soon as some are there; b"" at its end."""
        if self._done:
            return b""
        if self._chunked:
            if self._chunk_left == 0:
                size = self._rfile.readline(MAX_LINE + 1).split(b";", 1)[0].strip()
                if not size:
                    raise HTTPException("the connection ended inside a chunked body")
                self._chunk_left = int(size, 16)
                if self._chunk_left == 0:   # the last chunk; its trailers end with an empty line
                    while self._rfile.readline(MAX_LINE + 1) not in (b"\r\n", b"\n", b""):
                        pass
                    self._done = True
                    return b""
            data = self._rfile.read1(min(n, self._chunk_left))
            if not data:
                raise HTTPException("the connection ended inside a chunk")
            self._chunk_left -= len(data)
            if self._chunk_left == 0:
                self._rfile.readline(MAX_LINE + 1)   # the chunk's closing CRLF
            return data
        want = n if self._left is None else min(n, self._left)
        data = self._rfile.read1(want)
        if self._left is not None:
            if not data:
                raise HTTPException(f"the connection ended {self._left} bytes before the reply's end")
            self._left -= len(data)
            self._done = self._left == 0
        elif not data:
            self._done = True
        return data

    def read(self, n: int | None = None) -> bytes:
        """The rest of the body (at most ``n`` bytes)."""
        parts, got = [], 0
        while n is None or got < n:
            data = self.read1(65536 if n is None else min(65536, n - got))
            if not data:
                break
            parts.append(data)
            got += len(data)
        return b"".join(parts)


class Connection:
    """A kept-alive HTTP/1.1 connection to ``host:port`` or, with ``unix_path``, a unix socket."""

    def __init__(self, host: str, port: int = 80, timeout: float | None = None,
                 unix_path: str | None = None, tcp_keepalive: bool = False) -> None:
        self.host, self.port, self.timeout = host, port, timeout
        self.unix_path, self.tcp_keepalive = unix_path, tcp_keepalive
        self.sock: socket.socket | None = None
        self._rfile = None

    def connect(self) -> None:
        if self.unix_path:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.settimeout(self.timeout)
            try:
                sock.connect(self.unix_path)
            except BaseException:
                sock.close()
                raise
        else:
            sock = socket.create_connection((self.host, self.port), self.timeout)
            # small requests answered one at a time: no Nagle; keepalive probes, so a watch on a
            # silently vanished host notices within about a minute
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if self.tcp_keepalive:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
                for opt, value in (("TCP_KEEPIDLE", 30), ("TCP_KEEPINTVL", 10), ("TCP_KEEPCNT", 3)):
                    if hasattr(socket, opt):
                        sock.setsockopt(socket.IPPROTO_TCP, getattr(socket, opt), value)
        self.sock = sock
        self._rfile = sock.makefile("rb")

    def settimeout(self, timeout: float | None) -> None:
        self.timeout = timeout
        if self.sock is not None:
            self.sock.settimeout(timeout)

    def close(self) -> None:
        sock, rfile, self.sock, self._rfile = self.sock, self._rfile, None, None
        if rfile is not None:
            rfile.close()
        if sock is not None:
            sock.close()

    def request(self, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
        """Send one request (connecting first if needed)."""
        if self.sock is None:
            self.connect()
        host = "localhost" if self.unix_path else (f"[{self.host}]" if ":" in self.host else self.host)
        if not self.unix_path and self.port != 80:
            host += f":{self.port}"
        lines = [f"{method} {path} HTTP/1.1", f"Host: {host}", f"Content-Length: {len(body)}"]
        lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)
        self._method = method

    def getresponse(self) -> Response:
        """The reply's status and headers (its body is read from the Response)."""
        if self._rfile is None:
            raise HTTPException("no request was sent on this connection")
        return Response(self._rfile, self._method)
