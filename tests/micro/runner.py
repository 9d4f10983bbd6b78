"""The test runner on the MicroPython interpreter (no pytest there): every `test_*` function
of the given modules, then one closing line `N passed, N failed` that run.mjs checks."""

import sys
import time


def run(modules: list[str]) -> None:
    """Run the test functions of the modules and print one line per test and a summary."""
    passed = failed = 0
    print("interpreter", sys.implementation.name, sys.version)
    for name in modules:
        __import__(name)
        module = sys.modules[name]
        for attr in sorted(dir(module)):
            if not attr.startswith("test_"):
                continue
            started = time.ticks_ms()  # type: ignore[attr-defined]
            try:
                getattr(module, attr)()
            except Exception as exc:  # a failing test must not stop the run
                failed += 1
                print("FAIL", name + "." + attr, repr(exc))
                sys.print_exception(exc)  # type: ignore[attr-defined]
                continue
            passed += 1
            elapsed = time.ticks_diff(time.ticks_ms(), started)  # type: ignore[attr-defined]
            print("ok  ", name + "." + attr, str(elapsed) + " ms")
    print(str(passed) + " passed, " + str(failed) + " failed")
