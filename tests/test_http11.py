"""curverbd/curve/http11.py against Python's own HTTP/1.1 server: the reply shapes etcd's gateway and
Curve's snapshot service use (Content-Length, chunked, to the connection's end), kept-alive
connections, and a server that closed an idle connection."""
import http.server
import threading

import pytest

from curverbd.curve.http11 import Connection, HTTPException, RemoteDisconnected

CHUNKS = [b"{\"result\":", b" {\"created\": true}}" * 200, b"\n"]


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if self.path == "/length":
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        elif self.path == "/chunked":
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for chunk in CHUNKS:
                self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            self.wfile.write(b"0\r\n\r\n")
        elif self.path == "/to-end":
            self.send_response(404)
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(b"not here")
            self.close_connection = True
        elif self.path == "/hang-up":
            self.close_connection = True


@pytest.fixture(scope="module")
def server():
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield srv.server_address
    srv.shutdown()
    srv.server_close()


def test_kept_alive_connection_serves_each_reply_shape(server):
    conn = Connection(*server, timeout=5)
    for _ in range(3):                    # one connection, several requests
        conn.request("POST", "/length", b"x" * 5000)
        resp = conn.getresponse()
        assert (resp.status, resp.read(), resp.will_close) == (200, b"x" * 5000, False)
        conn.request("POST", "/chunked", b"{}")
        resp = conn.getresponse()
        assert resp.status == 200 and not resp.will_close
        assert resp.read() == b"".join(CHUNKS)
    conn.request("POST", "/to-end", b"")
    resp = conn.getresponse()
    assert (resp.status, resp.read(), resp.will_close) == (404, b"not here", True)
    conn.close()


def test_streamed_body_arrives_piece_by_piece(server):
    conn = Connection(*server, timeout=5)
    conn.request("POST", "/chunked", b"{}")
    resp = conn.getresponse()
    pieces = []
    while piece := resp.read1(100):
        assert len(piece) <= 100
        pieces.append(piece)
    assert b"".join(pieces) == b"".join(CHUNKS) and len(pieces) > 3
    conn.close()


def test_closed_without_reply_is_remote_disconnected(server):
    conn = Connection(*server, timeout=5)
    conn.request("POST", "/hang-up", b"")
    with pytest.raises(RemoteDisconnected):
        conn.getresponse()
    assert issubclass(RemoteDisconnected, (ConnectionResetError, HTTPException))
    conn.close()
