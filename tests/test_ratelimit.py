"""Failed logins past their limits are refused unchecked, for a while, except a login known good."""
from __future__ import annotations

from course import ratelimit


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_an_account_past_its_failures_is_refused_until_the_window_passes():
    clock = Clock()
    logins = ratelimit.Logins(clock=clock)
    for guess in range(ratelimit.ACCOUNT_FAILURES):
        assert not logins.refused("alice", f"guess-{guess}", f"10.0.0.{guess}")
        logins.failed("alice", f"10.0.0.{guess}")
    assert logins.refused("alice", "another guess", "10.0.0.99")  # from any address
    assert not logins.refused("bob", "bob's password", "10.0.0.99")  # other accounts are not
    clock.now += ratelimit.WINDOW_SECONDS + 1
    assert not logins.refused("alice", "another guess", "10.0.0.99")


def test_an_address_past_its_failures_is_refused_for_every_account():
    clock = Clock()
    logins = ratelimit.Logins(clock=clock)
    for guess in range(ratelimit.ADDRESS_FAILURES):
        logins.failed(f"user{guess}", "192.0.2.7")
    assert logins.refused("someone", "anything", "192.0.2.7")
    assert not logins.refused("someone", "anything", "192.0.2.8")


def test_a_login_known_good_goes_through_a_lockout_and_a_wrong_one_does_not():
    clock = Clock()
    logins = ratelimit.Logins(clock=clock)
    logins.succeeded("alice", "right")
    for _ in range(ratelimit.ACCOUNT_FAILURES):
        logins.failed("alice", "192.0.2.7")
    assert not logins.refused("alice", "right", "192.0.2.7")
    assert logins.refused("alice", "Right", "192.0.2.7")
    assert not logins.known.has("alic", "eright")  # the split between name and password counts
    clock.now += 3601  # a known login is forgotten after an hour
    for _ in range(ratelimit.ACCOUNT_FAILURES):
        logins.failed("alice", "192.0.2.7")
    assert logins.refused("alice", "right", "192.0.2.7")
