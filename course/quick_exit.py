"""End a process as the interpreter would, without its teardown.

On exit CPython waits for non-daemon threads, runs the atexit handlers, flushes the standard
streams, and then frees every module and object. That last step changes nothing outside the
process, and in one that imported MLflow (and scikit-learn, pandas) it costs about a second of
CPU. The course's kernel and command-line tools end through here.
"""
from __future__ import annotations

import atexit
import os
import sys
import threading


def quick_exit(code: int | str | None = 0) -> None:
    if not isinstance(code, int):  # as SystemExit(code): None is success, text is printed as an error
        if code is not None:
            print(code, file=sys.stderr)
        code = 0 if code is None else 1
    threading._shutdown()  # noqa: SLF001 - the interpreter's first step on exit
    atexit._run_exitfuncs()  # noqa: SLF001 - and its second
    for stream in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):
        try:
            stream.flush()
        except Exception:  # noqa: BLE001 - a closed or broken stream has nothing left to write
            pass
    os._exit(code)


def run(main) -> None:
    """`quick_exit(main())`, with SystemExit and an uncaught exception ending as they would."""
    try:
        code = main()
    except SystemExit as exc:
        code = exc.code
    except BaseException:  # noqa: BLE001 - the traceback the interpreter would print, and its exit code
        import traceback

        traceback.print_exc()
        code = 1
    quick_exit(code)
