"""The guards around a student's code while `make grade` runs it.

A guard for honest mistakes and casual tricks - a stray path that writes into a
neighbour's folder, a loop that never ends, a test helper replaced by a no-op - NOT a
security boundary: code that runs in the same Python process can undo anything done
here with enough effort. Grade untrusted work inside a container (README, "Grading").

Three layers, all set up in the graded process before the student's module is
imported:

  limits       resource.setrlimit: address space (memory), file size, no core files
  audit hook   sys.addaudithook: a PermissionError for a write, rename or delete
               outside the writable part of the scratch folder, for starting a
               process or sending a signal, for a network socket, for loading a
               native library, and for walking the garbage collector's objects
  fingerprint  the identity of every function and class (and their code objects) of
               the protected modules - the tests and their helpers (tests.expect), the
               harness, the references, pytest's runner, hypothesis, torch's top
               level and builtins - and of their sys.modules entries, taken before the
               first test and compared after each one. A difference means the
               student's code replaced or patched something the verdict depends on:
               the kata is graded `tampered`.
"""

from __future__ import annotations

import operator
import os
import resource
import sys
from pathlib import Path
from types import FunctionType, ModuleType

PROTECTED_PREFIXES = ("tests", "gptkata", "solutions")
PROTECTED_MODULES = (
    "builtins",
    "json",
    "pytest",
    "_pytest.runner",
    "_pytest.reports",
    "_pytest.python",
    "_pytest.outcomes",
    "_pytest.main",
    "pluggy._callers",
    "pluggy._hooks",
    "hypothesis",
    "hypothesis.core",
    "torch",
    "torch.nn.functional",
    "torch.testing",
)
# classes whose methods the tests rely on, though their modules are not protected whole
PROTECTED_CLASSES = ("torch.Tensor", "torch.nn.Module")

_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_TRUNC
_PATH_EVENTS = {  # event -> the positions of its path arguments
    "os.remove": (0,),
    "os.rename": (0, 1),
    "os.rmdir": (0,),
    "os.mkdir": (0,),
    "os.chmod": (0,),
    "os.chown": (0,),
    "os.link": (0, 1),
    "os.symlink": (0, 1),
    "os.truncate": (0,),
    "os.utime": (0,),
    "shutil.rmtree": (0,),
    "shutil.move": (0, 1),
}
_PROCESS_EVENTS = {
    "os.system",
    "os.exec",
    "os.posix_spawn",
    "os.spawn",
    "os.fork",
    "os.forkpty",
    "subprocess.Popen",
    "os.kill",
    "os.killpg",
    "signal.pthread_kill",
}
_NETWORK_EVENTS = {
    "socket.__new__",
    "socket.connect",
    "socket.bind",
    "socket.sendto",
    "socket.sendmsg",
    "socket.getaddrinfo",
    "socket.gethostbyname",
}
_OTHER_EVENTS = {"ctypes.dlopen", "ctypes.dlsym", "gc.get_objects"}


class Refused(PermissionError):
    """What the guards raise instead of doing something a graded kata may not do."""


def limit_resources(memory_mb: int, file_mb: int = 64) -> None:
    """Cap this process: `memory_mb` MiB of address space beyond what it uses now,
    files of at most `file_mb` MiB, no core dumps."""
    in_use = _address_space_bytes()
    memory = in_use + memory_mb * 2**20
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    resource.setrlimit(resource.RLIMIT_FSIZE, (file_mb * 2**20, file_mb * 2**20))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def _address_space_bytes() -> int:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 4 * 2**30  # no /proc: assume a torch process's few GiB


def install_guards(writable: Path, protected: tuple[Path, ...] = ()) -> None:
    """Refuse, from now on and for good, what a graded kata may not do. Files may be
    written only under `writable`, except under the `protected` paths inside it."""
    root = os.path.realpath(writable)
    kept_away = tuple(os.path.realpath(p) for p in protected)
    process_events, network_events, other_events = _PROCESS_EVENTS, _NETWORK_EVENTS, _OTHER_EVENTS
    me = os.getpid()

    def may_write(path) -> bool:
        if isinstance(path, int):  # an open descriptor: it was checked when opened
            return True
        full = os.path.realpath(os.fsdecode(path))
        if full == os.devnull:
            return True
        inside = full == root or full.startswith(root + os.sep)
        return inside and not any(full == p or full.startswith(p + os.sep) for p in kept_away)

    def hook(event: str, args: tuple) -> None:
        if event == "open":
            path, mode, flags = args
            writes = (mode and any(c in mode for c in "wax+")) or (flags or 0) & _WRITE_FLAGS
            if writes and path is not None and not may_write(path):
                raise Refused(
                    f"writing {path} is not allowed while grading: only the kata's folder"
                )
        elif event in _PATH_EVENTS:
            for position in _PATH_EVENTS[event]:
                path = args[position] if position < len(args) else None
                if path is not None and not may_write(path):
                    raise Refused(f"{event} on {path} is not allowed while grading")
        elif event in process_events:
            if event in ("os.kill", "os.killpg") and args and args[0] in (me, 0):
                return
            raise Refused(f"{event}: starting or signalling processes is not allowed while grading")
        elif event in network_events:
            raise Refused(f"{event}: network connections are not allowed while grading")
        elif event in other_events:
            raise Refused(f"{event} is not allowed while grading")

    sys.addaudithook(hook)


_FRAME_EVENTS = {"sys._getframe", "sys._current_frames", "sys.settrace", "sys.setprofile"}
_FRAME_ATTRIBUTES = {"tb_frame", "gi_frame", "cr_frame", "ag_frame"}
_HELPERS = (
    "inspect.py",
    "traceback.py",
    "logging/__init__.py",
    "ctypes/__init__.py",
)  # frames on a caller's behalf


def guard_integrity(kata_folders: tuple[str, ...]) -> None:
    """Refuse, for good, kata code's ways into the test process's own machinery: frames
    (sys._getframe, a traceback's or generator's frame, tracing), the garbage
    collector's object lists, and ctypes. Only the code that asks is looked at, so a
    library the kata calls (collections.namedtuple, torch) keeps its own uses."""
    folders = tuple(f.rstrip(os.sep) + os.sep for f in kata_folders)
    busy = [False]

    def asked_by_kata() -> bool:
        frame = sys._getframe(2)  # above this function and the hook: the asker
        while frame is not None and frame.f_code.co_filename.endswith(_HELPERS):
            frame = frame.f_back
        return frame is not None and frame.f_code.co_filename.startswith(folders)

    def hook(event: str, args: tuple) -> None:
        if busy[0]:
            return
        frames = event in _FRAME_EVENTS or (
            event == "object.__getattr__" and args[1] in _FRAME_ATTRIBUTES
        )
        if not (frames or event.startswith(("gc.get_", "ctypes."))):
            return
        busy[0] = True
        try:
            refused = asked_by_kata()
        finally:
            busy[0] = False
        if refused:
            raise Refused(f"{event} is not allowed in kata code while grading")

    sys.addaudithook(hook)


_WATCHED = (staticmethod, classmethod, property, ModuleType)
SET_BY_TORCH = {"torch.manual_seed"}  # torch._dynamo wraps it when the first optimizer is made


def _protected_names() -> list[str]:
    names = [n for n in PROTECTED_MODULES if n in sys.modules]
    names += [
        n
        for n in list(sys.modules)
        if any(n == p or n.startswith(p + ".") for p in PROTECTED_PREFIXES)
    ]
    return names


def _namespaces() -> list[tuple[str, object]]:
    """(name, object) for every protected module, every class it defines, and the
    PROTECTED_CLASSES: the namespaces whose callables the verdict depends on."""
    found = []
    for name in _protected_names():
        module = sys.modules[name]
        found.append((name, module))
        for attribute, value in list(vars(module).items()):
            if isinstance(value, type) and value.__module__ == name:
                found.append((f"{name}.{attribute}", value))
    for qualified in PROTECTED_CLASSES:
        module, _, attribute = qualified.rpartition(".")
        if module in sys.modules:
            found.append((qualified, getattr(sys.modules[module], attribute)))
    return found


class Fingerprint:
    """What the verdict depends on, taken once and compared cheaply: the protected
    modules' sys.modules entries; every callable (function, class, module, method,
    property) in their namespaces and in the classes they define; each plain
    function's code, defaults and `__wrapped__`; and, through `light` marks taken anew
    at each comparison, pytest's registered plugins and hook implementations and the
    `extra` objects' own attributes. The objects themselves are kept, not their id():
    a replaced function that is freed can leave its address to the one replacing it."""

    def __init__(self, extra: tuple = (), plugins=None):
        self.modules = {name: sys.modules[name] for name in _protected_names()}
        self.spaces = []  # (name, the live namespace, a copy of its watched entries)
        self.functions = []  # (name, function, its code, defaults, __wrapped__)
        for name, owner in _namespaces():
            live = vars(owner)
            kept = {
                k: v
                for k, v in live.items()
                if (callable(v) or isinstance(v, _WATCHED)) and f"{name}.{k}" not in SET_BY_TORCH
            }
            self.spaces.append((name, live, kept))
            for attribute, value in kept.items():
                function = getattr(value, "__func__", value)
                if isinstance(function, FunctionType):
                    marks = (function.__code__, function.__defaults__, _wrapped(function))
                    self.functions.append((f"{name}.{attribute}", function, *marks))
        self.light = light_marks(extra, plugins)

    def changes(self, extra: tuple = (), plugins=None, modules: bool = True) -> list[str]:
        """What is now replaced, patched or gone (new names are fine: torch and pytest
        add attributes as they go). `modules=False` compares only the light marks: cheap
        enough for every test."""
        now = light_marks(extra, plugins)
        changed = [n for n, mark in self.light.items() if not _same(now.get(n), mark)]
        if not modules:
            return changed
        changed += [
            f"sys.modules[{n!r}]" for n, m in self.modules.items() if sys.modules.get(n) is not m
        ]
        for name, live, kept in self.spaces:
            changed += [f"{name}.{k}" for k, v in kept.items() if live.get(k) is not v]
        for name, function, code, defaults, wrapped in self.functions:
            now_marks = (function.__code__, function.__defaults__, _wrapped(function))
            if not _same(now_marks, (code, defaults, wrapped)):
                changed.append(name)
        return changed


def _wrapped(function: FunctionType):
    return function.__dict__.get("__wrapped__")


def light_marks(extra: tuple = (), plugins=None) -> dict[str, tuple]:
    """name -> mark of pytest's plugins and hook implementations (given its plugin
    manager `plugins`) and of the `extra` objects' methods and own attributes."""
    marks: dict[str, tuple] = _plugin_marks(plugins) if plugins is not None else {}
    for index, thing in enumerate(extra):
        cls = thing if isinstance(thing, type) else type(thing)
        for attribute, value in list(vars(cls).items()):
            if callable(value) or isinstance(value, _WATCHED):
                function = getattr(value, "__func__", value)
                marks[f"<grader {index}>.{attribute}"] = (
                    function,
                    getattr(function, "__code__", None),
                )
        for attribute, value in list(getattr(thing, "__dict__", {}).items()):
            if callable(value) or attribute in _OBSERVED:  # a swapped writer or recorder
                marks[f"<grader {index}>.{attribute}()"] = (value,)
    return marks


_OBSERVED = ("recorder", "config")  # attributes of the grader's plugins the verdict passes through


def _plugin_marks(plugins) -> dict[str, tuple]:
    """The registered plugins, and each hook's implementations with their functions and
    wrapper flags: a plugin added, removed or swapped changes a mark."""
    marks = {"pytest plugins": tuple(plugin for _, plugin in plugins.list_name_plugin())}
    for name, caller in list(vars(plugins.hook).items()):
        if hasattr(caller, "get_hookimpls"):
            implementations = caller.get_hookimpls()
            marks[f"hook {name}"] = tuple(
                part
                for impl in implementations
                for part in (impl, impl.function, impl.hookwrapper, impl.wrapper)
            )
    return marks


def _same(now: tuple | None, before: tuple) -> bool:
    return now is not None and len(now) == len(before) and all(map(operator.is_, now, before))
