"""The warm process inside a grading sandbox: Python, torch, pytest and hypothesis
imported once, and a fresh child for every run of a submission's tests.

A new interpreter pays about 2.5 s of processor time to import what the tests need,
more than a typical submission's tests take together. So `make grade` starts one
sandbox per job (gptkata.kata.slot) with this module inside it, and asks it for a
child per run. The grader, outside the sandbox, speaks to it over one socket
(messages, with descriptors passed along):

  {"run": [pytest args], "env": {...}} + descriptors   a child runs pytest in-process
      -> {"started": pid}, later {"exit": wait status, "cpu": seconds}
  {"clean": true}   every process but this one ends; every file the last run left
      in /grade, /tmp and /dev/mqueue, and its System V IPC objects, go
      -> {"clean": true}

The child is the only process that runs graded code. It starts a session of its own
and can end, stop or signal this process (the sandbox has one user), but it cannot
read or change its memory or descriptors: this process is not dumpable, so the kernel
refuses the child's ptrace and /proc/<pid>/mem. If this process dies the sandbox ends
with it, and the grader starts a fresh one (the run in progress is graded as
stopped). Nothing graded ever runs in this process, so each child starts from the
same state: the libraries, never another submission's code.
"""

from __future__ import annotations

import ctypes
import gc
import importlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import traceback

from gptkata.kata import isolation

SOCKET_FD = "GPTKATA_ZYGOTE_FD"  # the descriptor of the grader's socket, in the environment
LONGEST_MESSAGE = 1 << 16
PR_SET_DUMPABLE = 4
WRITABLE = ("/grade", "/tmp", "/dev/mqueue")  # where a run can leave something behind


def warm_up() -> None:
    """Import once what every run imports (some 2.5 s of processor time)."""
    import _pytest.config
    import hypothesis.extra.pytestplugin  # noqa: F401
    import torch

    for plugin in _pytest.config.default_plugins:  # what pytest.main would import
        importlib.import_module(f"_pytest.{plugin}")
    torch.set_num_threads(1)  # as the tests run; no thread pool to lose in the fork
    # the first optimizer makes torch import torch._dynamo (0.75 s): once, here
    torch.optim.AdamW([torch.nn.Parameter(torch.zeros(1))])
    gc.collect()
    gc.freeze()  # the children's collector never walks what was imported here


def _dumpable(flag: int) -> None:
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_DUMPABLE, flag, 0, 0, 0)


def _child(args: list[str], env: dict[str, str], fds: list[int], channel: socket.socket) -> None:
    """Run pytest on `args` with `env`; `fds` are its output, record and key
    descriptors, and a pipe on which the grader says go once it has found this
    process from outside. Never returns."""
    code = 70
    try:
        channel.close()
        os.setsid()  # its own session and group: the grader ends them together
        _dumpable(1)  # a process like any other (this one's own /proc entries)
        for number in (signal.SIGCHLD, signal.SIGTERM, signal.SIGHUP):
            signal.signal(number, signal.SIG_DFL)
        output, record, key, go = fds
        if os.read(go, 1) != b"!":
            os._exit(70)  # the grader gave up on this run
        os.close(go)
        nothing = os.open(os.devnull, os.O_RDONLY)
        os.dup2(nothing, 0)
        os.dup2(output, 1)
        os.dup2(output, 2)
        os.close(output)
        os.environ.clear()
        os.environ.update(env, GPTKATA_RECORD_FD=str(record), GPTKATA_KEY_FD=str(key))
        sys.argv = ["pytest", *args]
        import pytest

        code = int(pytest.main(args))
        sys.stdout.flush()
        sys.stderr.flush()
    except BaseException:  # noqa: B036 - whatever happens, the child must exit here
        traceback.print_exc()
        sys.stderr.flush()
        code = 70
    finally:
        os._exit(code)


def run(request: dict, fds: list[int], channel: socket.socket) -> None:
    """One child for `request`; tells the grader when it started and how it ended."""
    pid = os.fork()
    if pid == 0:
        _child(request["run"], request["env"], fds, channel)
    for fd in fds:
        os.close(fd)
    channel.sendall(json.dumps({"started": pid}).encode())
    _, status, usage = os.wait4(pid, 0)
    cpu = usage.ru_utime + usage.ru_stime
    channel.sendall(json.dumps({"exit": status, "cpu": cpu}).encode())


def clean() -> None:
    """End every process of the sandbox but this one and its init, then remove what
    the last run left behind."""
    me = os.getpid()
    for _ in range(100):
        others = [p for p in _processes() if p not in (1, me)]
        if not others:
            break
        for pid in others:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(0.01)  # the init reaps them
    else:
        raise RuntimeError("processes of the last run would not end")
    kept = _mount_points()
    for folder in WRITABLE:
        _wipe(folder, kept)
    if shutil.which("ipcrm"):
        subprocess.run(["ipcrm", "--all"], capture_output=True, check=False)


def _processes() -> list[int]:
    """The live (not zombie) processes of this sandbox's process namespace."""
    return [pid for pid, fields in isolation.processes().items() if fields[0] != "Z"]


def _mount_points() -> set[str]:
    with open("/proc/self/mountinfo", encoding="utf-8") as f:
        points = [line.split()[4] for line in f]
    return {p.encode().decode("unicode_escape") for p in points}  # \040 for a space


def _wipe(folder: str, kept: set[str]) -> None:
    """Remove everything under `folder` except the mount points in `kept` (the
    edition's read-only parts), the folders that lead to them, and the folders that
    are mounted elsewhere too (/grade/tmp is /tmp): only their contents go."""
    if not os.path.isdir(folder) or os.path.islink(folder):
        return
    mounted = {_identity(k) for k in kept if os.path.isdir(k)}
    for entry in os.scandir(folder):
        path = entry.path
        if path in kept:
            continue
        if any(k.startswith(path + "/") for k in kept):
            _wipe(path, kept)
        elif entry.is_dir(follow_symlinks=False):
            os.chmod(path, 0o700)  # a run may have taken its own permissions away
            _wipe(path, kept)
            if _identity(path) not in mounted:
                os.rmdir(path)
        else:
            os.unlink(path)


def _identity(path: str) -> tuple[int, int]:
    found = os.stat(path, follow_symlinks=False)
    return found.st_dev, found.st_ino


def main() -> int:
    channel = socket.socket(fileno=int(os.environ.pop(SOCKET_FD)))
    warm_up()
    _dumpable(0)
    channel.sendall(json.dumps({"ready": os.getpid()}).encode())
    while True:
        message, fds, _, _ = socket.recv_fds(channel, LONGEST_MESSAGE, 4)
        if not message:
            return 0  # the grader is gone
        request = json.loads(message)
        if "run" in request:
            run(request, fds, channel)
        elif request.get("clean"):
            clean()
            channel.sendall(json.dumps({"clean": True}).encode())


if __name__ == "__main__":
    sys.exit(main())
