"""The micro test suite (tests/micro) on the real MicroPython interpreter."""

from __future__ import annotations

import re

from tests.unit.micro.wasm import REPO, run_script, run_suite


def _test_functions() -> int:
    return sum(
        len(re.findall(r"^def test_", path.read_text(), flags=re.MULTILINE))
        for path in (REPO / "tests" / "micro").glob("test_*.py")
    )


def test_every_micro_test_passes_on_micropython() -> None:
    result = run_suite()
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "interpreter micropython" in output
    # Every test function ran: a module that failed to import would lower the count.
    assert f"\n{_test_functions()} passed, 0 failed\n" in result.stdout, output


def test_a_failing_micro_test_fails_the_run() -> None:
    # run.mjs must report failure, or the test above could never fail.
    result = run_suite("no_such_module")
    assert result.returncode != 0


def test_the_interpreter_is_micropython_without_cpython_modules() -> None:
    out = run_script(
        "import sys\n"
        "print(sys.implementation.name)\n"
        "for name in ('typing', 'enum', 'dataclasses', 'msgspec', 'cbor2'):\n"
        "    try:\n"
        "        __import__(name)\n"
        "        print('has', name)\n"
        "    except ImportError:\n"
        "        pass\n"
        "print({'b': 1, 'a': 2, 3: 3} == {3: 3, 'a': 2, 'b': 1})\n"
    )
    assert out.split() == ["micropython", "True"]
