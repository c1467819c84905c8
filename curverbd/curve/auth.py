"""Curve's request authentication: the (owner, date, signature) triple every MDS request carries.

The string signed is ``"<date>:<owner>"`` (date in microseconds, decimal); the
signature is Base64(HMAC-SHA256(password, that string)). libcurve signs only
for the root user (a non-empty password); the MDS checks the date of every
request against a 15 s window and the signature of root's only.
"""
from __future__ import annotations

import base64
import time

ROOT_USER = "root"                 # mds.auth.rootUserName
DATE_WINDOW_US = 15_000_000        # kStaledRequestTimeIntervalUs


def now_us() -> int:
    return time.time_ns() // 1000


def signature(password: str, date: int, owner: str) -> str:
    """Base64(HMAC-SHA256(password, "date:owner"))."""
    import hashlib   # here: only root signs, and loading OpenSSL is ~4 ms of every start
    import hmac
    mac = hmac.new(password.encode(), f"{date}:{owner}".encode(), hashlib.sha256).digest()
    return base64.b64encode(mac).decode()


def auth_fields(owner: str, password: str = "", date: int | None = None) -> dict:
    """The triple as libcurve fills it: a signature only for root with a password."""
    date = now_us() if date is None else date
    sig = signature(password, date, owner) if owner == ROOT_USER and password else ""
    return {"owner": owner, "date": date, "signature": sig}
