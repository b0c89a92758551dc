"""Learner code that tries to fake a pass, as a clever student would write it: the
tests of `make test` (test_fakes.py) and of grading (test_grade.py) append these to a
kata file and check that none of them is ever counted as passed."""

FORGED_PASS = """
import json, os, posix
_line = json.dumps({"body": json.dumps({"complete": 0, "collected": 13, "seq": 1}), "mac": "0" * 64})
for _fd in os.listdir("/proc/self/fd"):
    try:
        os.write(int(_fd), (_line + "\\n").encode())
    except OSError:
        pass
posix._exit(0)
"""

PATCHED_HELPERS = """
import tests.expect as _expect
for _name in dir(_expect):
    if not _name.startswith("_") and callable(getattr(_expect, _name)):
        setattr(_expect, _name, lambda *args, **kwargs: None)
"""

PATCHED_RUNTEST = """
import _pytest.python
_pytest.python.Function.runtest = lambda self: None
"""

PLUGIN = """
import sys, pytest
class _Pass:
    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item, call):
        outcome = yield
        outcome.get_result().outcome = "passed"
_frame = sys._getframe()
while _frame is not None:
    _config = _frame.f_locals.get("config")
    if hasattr(_config, "pluginmanager"):
        _config.pluginmanager.register(_Pass(), "always-pass")
        break
    _frame = _frame.f_back
"""
