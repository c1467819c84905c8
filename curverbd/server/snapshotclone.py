"""mainline Curve's snapshotcloneserver HTTP API (reference section 7), served with --snapshotclone-listen.

``GET /SnapshotCloneService?Action=...&Version=...&User=...``; the reply is
JSON ``{"Code": "<int>", "Message": ..., "RequestId": ..., extras}`` with
HTTP 200 for Code 0, 400 for -5 (bad request) and 500 for any other code.
The rules and state are in snapshotclone_rules.py; this module parses and
answers. A request's failure is its reply (Code -1): it never ends the daemon.
"""
from __future__ import annotations

import json
import logging
import os
import socket
import threading
import uuid as uuidlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable
from urllib.parse import parse_qs, urlsplit

from ..errors import CurveError
from .snapshotclone_rules import (BAD_REQUEST, INTERNAL, NOT_SUPPORTED, OK, Refusal, SnapshotCloneRules)
from .store import Store

log = logging.getLogger("curverbd.server.snapshotclone")
PATH = "/SnapshotCloneService"
_TRUE, _FALSE = ("true", "True", "TRUE", "1"), ("false", "False", "FALSE", "0")
# release1.5's local-snapshot actions: a mainline server does not know them
_R15_ONLY = ("CreateFile", "DeleteFile", "ListFile")


class Request:
    """One request's query parameters, with the API's rules for reading them."""

    def __init__(self, query: str) -> None:
        self.params = {k: v[-1] for k, v in parse_qs(query, keep_blank_values=True).items()}

    def required(self, name: str) -> str:
        value = self.params.get(name)
        if not value:
            raise Refusal(BAD_REQUEST, f"parameter {name} is required")
        return value

    def optional(self, name: str) -> str | None:
        return self.params.get(name)

    def file(self, name: str, required: bool = True) -> str | None:
        value = self.required(name) if required else self.params.get(name)
        if value is not None and not value.startswith("/"):
            raise Refusal(BAD_REQUEST, f"parameter {name}={value!r}: a path starts with '/'")
        return value

    def boolean(self, name: str) -> bool:
        value = self.required(name)
        if value in _TRUE:
            return True
        if value in _FALSE:
            return False
        raise Refusal(BAD_REQUEST, f"parameter {name}={value!r}: not true/false/1/0")

    def number(self, name: str, default: int) -> int:
        value = self.params.get(name)
        if value is None:
            return default
        if not value.isdigit():
            raise Refusal(BAD_REQUEST, f"parameter {name}={value!r}: not a non-negative integer")
        return int(value)


class SnapshotCloneService:
    """The actions: Request -> reply extras (or Refusal)."""

    def __init__(self, rules: SnapshotCloneRules) -> None:
        self.rules = rules
        self.actions: dict[str, Callable[[Request], dict]] = {
            "CreateSnapshot": self._create_snapshot, "DeleteSnapshot": self._delete_snapshot,
            "CancelSnapshot": self._cancel_snapshot, "GetFileSnapshotInfo": self._snapshot_info,
            "GetFileSnapshotList": self._snapshot_list, "Clone": self._clone, "Recover": self._recover,
            "Flatten": self._flatten, "GetCloneTasks": self._clone_tasks, "GetCloneTaskList": self._task_list,
            "CleanCloneTask": self._clean_task, "GetCloneRefStatus": self._ref_status}

    def handle(self, query: str) -> tuple[int, dict]:
        """(Code, extras) of the request with ``query``."""
        req = Request(query)
        action = req.required("Action")
        req.required("Version")   # required, never checked (as Curve)
        if action in _R15_ONLY:
            raise Refusal(NOT_SUPPORTED, f"Action {action}: only release1.5's server has it")
        handler = self.actions.get(action)
        if handler is None:
            raise Refusal(BAD_REQUEST, f"Action {action!r}: no such action")
        return OK, handler(req)

    def _create_snapshot(self, r: Request) -> dict:
        return self.rules.create_snapshot(r.required("User"), r.file("File"), r.required("Name"))

    def _delete_snapshot(self, r: Request) -> dict:
        return self.rules.delete_snapshot(r.required("User"), r.required("UUID"), r.file("File", required=False))

    def _cancel_snapshot(self, r: Request) -> dict:
        return self.rules.cancel_snapshot(r.required("User"), r.file("File"), r.required("UUID"))

    def _page(self, r: Request) -> tuple[int, int]:
        return r.number("Limit", 10), r.number("Offset", 0)

    def _snapshot_info(self, r: Request) -> dict:
        filters = {"user": r.required("User")}
        for param, col in (("File", "file"), ("UUID", "uuid")):
            if r.optional(param):
                filters[col] = r.file("File") if param == "File" else r.optional(param)
        return self.rules.snapshots(filters, *self._page(r))

    def _snapshot_list(self, r: Request) -> dict:
        filters: dict = {}
        for param, col in (("User", "user"), ("File", "file"), ("UUID", "uuid"), ("Status", "status")):
            if r.optional(param):
                filters[col] = r.number(param, 0) if param == "Status" else r.optional(param)
        return self.rules.snapshots(filters, *self._page(r))

    def _clone_args(self, r: Request) -> tuple[str, str, str, bool]:
        if "Poolset" in r.params and not r.params["Poolset"]:
            raise Refusal(BAD_REQUEST, "parameter Poolset: must not be empty when given")
        return r.required("User"), r.required("Source"), r.file("Destination"), r.boolean("Lazy")

    def _clone(self, r: Request) -> dict:
        return self.rules.clone(*self._clone_args(r))

    def _recover(self, r: Request) -> dict:
        return self.rules.recover(*self._clone_args(r))

    def _flatten(self, r: Request) -> dict:
        return self.rules.flatten(r.required("User"), r.required("UUID"))

    def _clone_tasks(self, r: Request) -> dict:
        filters = {"user": r.required("User")}
        if r.optional("UUID"):
            filters["uuid"] = r.optional("UUID")
        if r.optional("File"):
            filters["file"] = r.file("File")
        return self.rules.tasks(filters, *self._page(r))

    def _task_list(self, r: Request) -> dict:
        filters: dict = {}
        for param, col in (("User", "user"), ("UUID", "uuid"), ("Source", "src"), ("Destination", "file"),
                           ("Status", "status"), ("Type", "type")):
            if r.optional(param):
                filters[col] = r.number(param, 0) if param in ("Status", "Type") else r.optional(param)
        return self.rules.tasks(filters, *self._page(r))

    def _clean_task(self, r: Request) -> dict:
        return self.rules.clean_task(r.required("User"), r.required("UUID"))

    def _ref_status(self, r: Request) -> dict:
        return self.rules.ref_status(r.required("User"), r.required("Source"))


def http_status(code: int) -> int:
    return 200 if code == OK else 400 if code == BAD_REQUEST else 500


class _Handler(BaseHTTPRequestHandler):
    server: "_HTTPServer"
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        request_id = str(uuidlib.uuid4())
        url = urlsplit(self.path)
        try:
            if url.path != PATH:
                raise Refusal(BAD_REQUEST, f"{url.path}: not {PATH}")
            code, extras = self.server.service.handle(url.query)
            message = "Exec success."
        except Refusal as exc:
            code, extras, message = exc.code, {}, str(exc)
        except CurveError as exc:   # the store refused something the rules did not foresee
            code, extras, message = INTERNAL, {}, str(exc)
        except Exception as exc:   # one request's bug never ends the daemon
            log.exception("snapshotclone request %s failed", self.path)
            code, extras, message = INTERNAL, {}, f"internal error: {exc}"
        body = json.dumps({"Code": str(code), "Message": message, "RequestId": request_id, **extras}).encode()
        self.send_response(http_status(code))
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, fmt: str, *args) -> None:
        log.debug("%s " + fmt, self.address_string(), *args)


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    service: SnapshotCloneService


class _HTTPServer6(_HTTPServer):
    address_family = socket.AF_INET6


class SnapshotCloneServer:
    """The HTTP server in a daemon thread; its bound address goes to ``addr_path`` (removed by stop())."""

    def __init__(self, store: Store, busy: Callable[[str], bool], address: tuple[str, int], addr_path: str,
                 step: int = 64 << 20, s3_fail: bool = False) -> None:
        self.rules = SnapshotCloneRules(store, busy, step, s3_fail)
        server_class = _HTTPServer6 if ":" in address[0] else _HTTPServer
        try:
            self.httpd = server_class(address, _Handler)
        except OSError as exc:
            raise OSError(exc.errno, f"--snapshotclone-listen {address[0]}:{address[1]}: cannot listen there: "
                                     f"{exc.strerror}") from None
        self.httpd.service = SnapshotCloneService(self.rules)
        self.addr_path = addr_path
        self.thread = threading.Thread(target=self.httpd.serve_forever, name="snapshotclone", daemon=True)

    def start(self) -> None:
        host, port = self.httpd.server_address[:2]
        text = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        tmp = self.addr_path + ".tmp"
        with open(tmp, "w") as f:
            f.write(text + "\n")
        os.rename(tmp, self.addr_path)
        self.rules.resume()
        self.thread.start()
        log.info("snapshotcloneserver API on %s", text)

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        try:
            os.unlink(self.addr_path)
        except FileNotFoundError:
            pass
