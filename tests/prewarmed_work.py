"""Functions for tests/test_prewarmed.py to run in a forked child (importable by name there)."""
import os
import time


def say(argv):
    print(" ".join(argv))


def allocate(argv):
    hoard = bytearray(int(argv[0]) * 1024 * 1024)
    hoard[::4096] = b"x" * len(hoard[::4096])  # touch every page, so it is really used
    print("allocated")


def sleep(argv):
    time.sleep(float(argv[0]))
    print("woke")


def environment(argv):
    print(os.environ.get(argv[0], "unset"))


def fail(argv):
    print("grading.json")  # printed before the failure: never reaches the caller half-done
    raise ValueError("no such store")
