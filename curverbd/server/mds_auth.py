"""Who may do what on Curve's namespace: the MDS's owner checks (reference section 3 and 4).

Every check starts alike: an empty owner, or a date (µs) 15 s or more away from
now, is kOwnerAuthFail for everyone; the root user must sign "<date>:<owner>"
with the root password and then passes every ownership rule; any other user's
signature is ignored and the path decides:

- path_owner (CheckPathOwner): every ancestor directory exists (kFileNotExists),
  is a directory (kNotDirectory) and is the caller's (kOwnerAuthFail); "/"
  itself is never a non-root user's;
- file_owner (CheckFileOwner): the same, and the entry exists and is the caller's;
- destination_owner (CheckDestinationOwner): the same, a missing entry is fine;
- root_owner (CheckRootOwner): root with a good signature, nobody else;
- recycle_file_owner (CheckRecycleFileOwner): an entry of /RecycleBin the caller owns.
"""
from __future__ import annotations

from typing import NamedTuple

from ..curve.auth import DATE_WINDOW_US, now_us, signature
from ..curve.nameserver2 import FileType, StatusCode as S
from .refusal import refused
from .store import RECYCLE_BIN, RECYCLE_BIN_ID, ROOT_ID, Store, split_curve_path


class Caller(NamedTuple):
    """A request's auth triple."""
    owner: str
    signature: str
    date: int


class OwnerChecks:
    """Curve's owner checks against the store's namespace; call them holding the database lock."""

    def __init__(self, store: Store, root_user: str, root_password: str) -> None:
        self.store = store
        self.root_user = root_user
        self.root_password = root_password

    def _is_root(self, what: str, caller: Caller) -> bool:
        """True for root with a good signature; raises for a refusal common to every check."""
        if not caller.owner:
            raise refused(S.kOwnerAuthFail, f"{what}: the request names no owner")
        if abs(caller.date - now_us()) >= DATE_WINDOW_US:
            raise refused(S.kOwnerAuthFail, f"{what}: request date {caller.date} µs is 15 s or more away from "
                                            f"the MDS's clock (stale or replayed)")
        if caller.owner != self.root_user:
            return False
        if caller.signature != signature(self.root_password, caller.date, caller.owner):
            raise refused(S.kOwnerAuthFail, f"{what}: the signature of root user {caller.owner!r} does not "
                                            f"match the root password")
        return True

    def _ancestors(self, path: str, caller: Caller) -> tuple[int, str]:
        """(id of the parent directory, last component) after checking every ancestor is the caller's."""
        parts = split_curve_path(path)
        if not parts:
            raise refused(S.kOwnerAuthFail, f"/: the root directory is only the root user's (not {caller.owner!r})")
        parent = ROOT_ID
        for i, part in enumerate(parts[:-1]):
            where = "/" + "/".join(parts[:i + 1])
            entry = self.store.entry(parent, part)
            if entry is None:
                raise refused(S.kFileNotExists, f"{path}: directory {where} does not exist")
            if entry.type != FileType.INODE_DIRECTORY:
                raise refused(S.kNotDirectory, f"{path}: {where} is not a directory")
            if entry.owner != caller.owner:
                raise refused(S.kOwnerAuthFail, f"{path}: directory {where} belongs to {entry.owner!r}, "
                                                f"not {caller.owner!r}")
            parent = entry.id
        return parent, parts[-1]

    def path_owner(self, path: str, caller: Caller) -> None:
        if not self._is_root(path, caller):
            self._ancestors(path, caller)

    def file_owner(self, path: str, caller: Caller) -> None:
        self._entry_owner(path, caller, missing_ok=False)

    def destination_owner(self, path: str, caller: Caller) -> None:
        self._entry_owner(path, caller, missing_ok=True)

    def _entry_owner(self, path: str, caller: Caller, missing_ok: bool) -> None:
        if self._is_root(path, caller):
            return
        parent, name = self._ancestors(path, caller)
        self._owned(path, self.store.entry(parent, name), caller, missing_ok)

    def root_owner(self, path: str, caller: Caller) -> None:
        if not self._is_root(path, caller):
            raise refused(S.kOwnerAuthFail, f"{path}: only the root user may do this, not {caller.owner!r}")

    def recycle_file_owner(self, path: str, caller: Caller) -> None:
        if self._is_root(path, caller):
            return
        parts = split_curve_path(path)
        if len(parts) != 2 or parts[0] != RECYCLE_BIN:
            raise refused(S.kOwnerAuthFail, f"{path}: not an entry of /{RECYCLE_BIN}")
        self._owned(path, self.store.entry(RECYCLE_BIN_ID, parts[1]), caller, missing_ok=False)

    @staticmethod
    def _owned(path: str, entry, caller: Caller, missing_ok: bool) -> None:
        if entry is None:
            if not missing_ok:
                raise refused(S.kFileNotExists, f"{path}: does not exist")
        elif entry.owner != caller.owner:
            raise refused(S.kOwnerAuthFail, f"{path}: belongs to {entry.owner!r}, not {caller.owner!r}")
