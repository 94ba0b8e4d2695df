"""Failed logins, counted per account and per address, for the class server and the hub.

Checking a password costs the MLflow server 0.1-0.3 s of CPU, so a flood of guesses both tries
passwords without end and slows every other learner's requests. Past a number of failures in a
window, a login for that account, or from that address, is refused at once without a check,
until the window has passed. A login that was right before (its hash kept in memory, never the
password) still goes through, so a learner already at work is not locked out by someone
guessing their password.
"""
from __future__ import annotations

import collections
import hashlib
import os
import threading
import time

WINDOW_SECONDS = 300.0
ACCOUNT_FAILURES = 10  # per account in the window: a learner's own typos, not a dictionary
ADDRESS_FAILURES = 60  # per address: a class behind one NAT makes the typos of many


class Failures:
    """When each of the last failures of a key happened, and whether it has had too many."""

    def __init__(self, limit: int, window: float = WINDOW_SECONDS, clock=time.monotonic):
        self.limit, self.window, self.clock = limit, window, clock
        self._times: dict[str, collections.deque] = {}
        self._lock = threading.Lock()

    def _recent(self, key: str, now: float) -> collections.deque:
        times = self._times.setdefault(key, collections.deque(maxlen=self.limit))
        while times and now - times[0] > self.window:
            times.popleft()
        return times

    def blocked(self, key: str) -> bool:
        with self._lock:
            times = self._recent(key, self.clock())
            if not times:
                self._times.pop(key, None)  # nothing to remember: keys do not pile up
            return len(times) >= self.limit

    def failed(self, key: str) -> None:
        with self._lock:
            self._recent(key, self.clock()).append(self.clock())


class Known:
    """Logins that succeeded lately, as salted hashes: a lockout does not stop them."""

    def __init__(self, ttl: float = 3600.0, most: int = 10_000, clock=time.monotonic):
        self.ttl, self.most, self.clock = ttl, most, clock
        self._salt = hashlib.sha256(os.urandom(32))
        self._seen: dict[bytes, float] = {}
        self._lock = threading.Lock()

    def _key(self, username: str, password: str) -> bytes:
        digest = self._salt.copy()
        digest.update(f"{len(username)}:{username}:{password}".encode())
        return digest.digest()

    def add(self, username: str, password: str) -> None:
        with self._lock:
            if len(self._seen) >= self.most:
                now = self.clock()
                self._seen = {k: t for k, t in self._seen.items() if now - t < self.ttl}
                if len(self._seen) >= self.most:
                    self._seen.clear()
            self._seen[self._key(username, password)] = self.clock()

    def has(self, username: str, password: str) -> bool:
        with self._lock:
            seen = self._seen.get(self._key(username, password))
            return seen is not None and self.clock() - seen < self.ttl


class Logins:
    """The three together: may this login be checked, and what came of it."""

    def __init__(self, clock=time.monotonic):
        self.accounts = Failures(ACCOUNT_FAILURES, clock=clock)
        self.addresses = Failures(ADDRESS_FAILURES, clock=clock)
        self.known = Known(clock=clock)

    def refused(self, username: str, password: str, address: str) -> bool:
        """True when the login must be refused unchecked."""
        if self.known.has(username, password):
            return False
        return self.accounts.blocked(username) or self.addresses.blocked(address)

    def failed(self, username: str, address: str) -> None:
        self.accounts.failed(username)
        self.addresses.failed(address)

    def succeeded(self, username: str, password: str) -> None:
        self.known.add(username, password)
