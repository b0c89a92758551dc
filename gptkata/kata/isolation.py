"""The operating system's sandbox around graded code: bubblewrap (`bwrap`).

A guard inside the interpreter can be undone by the code it guards (a write from C,
a signal to the process group, a plugin registered by walking frames). The kernel's
namespaces and limits cannot: `make grade` runs each submission's tests inside

  bwrap  --unshare-pid --unshare-net --unshare-ipc --unshare-uts --die-with-parent
         --new-session, with a file system of its own:
           /usr, /etc, the system's libraries, Python and the course's .venv  read-only
           /grade                       the scratch folder (writable), holding
             gptkata/ tests/ solutions/ pyproject.toml   the edition's harness, read-only
             exercises/                 the student's files, read-only
             data/tinyshakespeare.txt   the corpus, read-only
           /tmp                         writable, inside the scratch folder
           /proc, /dev, /dev/mqueue     the sandbox's own
         Nothing else of the host is there: no other student's folder, no submissions
         folder, no solutions the edition leaves out, no output folder, no home.

  limits  a process count (RLIMIT_NPROC, counted inside the sandbox: a fork bomb stops
          at `PROCESSES`), address space, file size, no core files; CPU time is
          measured from outside (`tree_cpu_seconds`).

The process count is only enforced for a user other than root, so a grader running as
root starts the sandbox as root and drops to `SANDBOX_UID` (nobody) inside it before
anything else runs; the scratch folder is handed to that user.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

INSIDE = Path("/grade")  # where the scratch folder appears inside the sandbox
SANDBOX_UID = 65534  # nobody: the user a root grader drops to inside the sandbox
PROCESSES = 64  # processes and threads the graded code may have at once
SYSTEM = ("/usr", "/etc", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
INSTALL = (
    "bubblewrap is needed to grade untrusted work in a sandbox: install it"
    " (Debian/Ubuntu: sudo apt-get install bubblewrap; Fedora: sudo dnf install bubblewrap;"
    " macOS: run make grade in a Linux container) or grade without isolation: ISOLATION=none"
)


class Unavailable(RuntimeError):
    """bwrap is missing or cannot start a sandbox here; the message is one line."""


@dataclass
class Sandbox:
    """One submission's view of the file system: `scratch` (writable) at /grade with
    the read-only `binds` (host path -> path under /grade) mounted over it."""

    scratch: Path
    binds: dict[Path, str] = field(default_factory=dict)
    memory_mb: int = 2048

    def command(self, inner: list[str], env: dict[str, str]) -> list[str]:
        """The bwrap command line that runs `inner` inside this sandbox with `env`."""
        args = [_bwrap(), "--die-with-parent", "--new-session", "--unshare-pid"]
        args += ["--unshare-net", "--unshare-ipc", "--unshare-uts", "--clearenv"]
        if os.geteuid() != 0:
            args.append("--unshare-user")
        # the writable folders first: a system path mounted later may lie under /tmp (a
        # course cloned there), and must not be hidden by /tmp's mount
        (self.scratch / "tmp").mkdir(exist_ok=True)
        args += ["--bind", str(self.scratch / "tmp"), "/tmp"]
        args += ["--bind", str(self.scratch), str(INSIDE)]
        made: set[Path] = {Path("/tmp"), INSIDE}
        for path in _system_paths():
            args += _parents(path, made) + _mirror(path)
        args += ["--proc", "/proc", "--dev", "/dev", "--mqueue", "/dev/mqueue"]
        for host, inside in self.binds.items():
            args += _parents(INSIDE / inside, made) + ["--ro-bind", str(host), str(INSIDE / inside)]
        for name, value in env.items():
            args += ["--setenv", name, value]
        args += ["--chdir", str(INSIDE)]
        args.append("--")
        if os.geteuid() == 0:
            for folder in (self.scratch, self.scratch / "tmp"):  # theirs to write in
                os.chown(folder, SANDBOX_UID, SANDBOX_UID)
            args[-1:] = ["--cap-add", "CAP_SETUID,CAP_SETGID,CAP_SETPCAP", "--", *_drop_root()]
        return args + _limited(inner)


def environment() -> dict[str, str]:
    """What every process in a sandbox finds in its environment (nothing of the host's)."""
    return dict(
        PATH=f"{Path(sys.executable).parent}:/usr/bin:/bin",
        HOME="/tmp",
        TMPDIR="/tmp",
        LANG="C.UTF-8",
        PYTHONDONTWRITEBYTECODE="1",
        HYPOTHESIS_PROFILE=os.environ.get("HYPOTHESIS_PROFILE", "fast"),
    )


def _bwrap() -> str:
    found = shutil.which("bwrap")
    if found is None:
        raise Unavailable(INSTALL)
    return found


def _limited(inner: list[str]) -> list[str]:
    """`inner` under the process-count limit, with no core files (the address space is
    limited by the test process itself, once its libraries are loaded)."""
    return ["prlimit", f"--nproc={PROCESSES}", "--core=0", "--", *inner]


def _drop_root() -> list[str]:
    """Inside the sandbox: become nobody, with no capabilities left to regain."""
    user = str(SANDBOX_UID)
    return [
        "setpriv",
        f"--reuid={user}",
        f"--regid={user}",
        "--clear-groups",
        "--inh-caps=-all",
        "--bounding-set=-all",
        "--no-new-privs",
    ]


def _system_paths() -> list[Path]:
    """What the sandbox shows of the host: the system, Python and the course's venv."""
    found = [Path(p) for p in SYSTEM if os.path.lexists(p)]
    for prefix in {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix}:
        path = Path(prefix)
        if not any(path.is_relative_to(p) for p in found if not p.is_symlink()):
            found.append(path)
    return found


def _parents(path: Path, made: set[Path]) -> list[str]:
    """bwrap's arguments that make the folders above `path` readable by anyone (bwrap
    makes missing ones private to root, which a dropped user could not pass)."""
    args = []
    for parent in reversed(path.parents[:-1]):  # from the top, without / itself
        if parent not in made:
            made.add(parent)
            args += ["--perms", "0755", "--dir", str(parent)]
    return args


def _mirror(path: Path) -> list[str]:
    """bwrap's arguments that show `path` at the same place, read-only (a symbolic link
    such as /bin -> usr/bin stays a link)."""
    if path.is_symlink():
        return ["--symlink", os.readlink(path), str(path)]
    return ["--ro-bind", str(path), str(path)]


def shown_paths() -> list[Path]:
    """The host folders a sandbox can read: nothing to grade may live inside them."""
    return [p.resolve() for p in _system_paths() if not p.is_symlink()]


def check_outside(**folders: Path) -> None:
    """A one-line ValueError when a folder the sandbox must not see lies inside one it
    shows (e.g. SUBMISSIONS under the course's .venv)."""
    for what, folder in folders.items():
        folder = folder.resolve()
        for shown in shown_paths():
            if folder.is_relative_to(shown):
                raise ValueError(
                    f"{what}={folder} lies inside {shown}, which every sandbox can read:"
                    " move it elsewhere"
                )


def probe(scratch: Path) -> None:
    """Start one empty sandbox; Unavailable (one line) when bwrap cannot run here."""
    command = Sandbox(scratch).command(["true"], {"PATH": "/usr/bin:/bin"})
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as error:
        raise Unavailable(f"bwrap could not start a sandbox ({error}). {INSTALL}") from None
    if done.returncode != 0:
        said = " ".join(done.stderr.split())[:200]
        raise Unavailable(f"bwrap could not start a sandbox ({said}). {INSTALL}")


def processes() -> dict[int, list[str]]:
    """Every process this namespace's /proc shows: pid -> the fields of its stat line
    after the name (state, parent, ...; proc(5))."""
    found = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                stat = f.read().decode("ascii", "replace")
        except OSError:
            continue
        found[int(entry)] = stat[stat.rfind(")") + 2 :].split()
    return found


def tree_cpu_seconds(root: int) -> float:
    """The processor seconds used by process `root` and all its descendants, those
    still running and those already waited for, from /proc."""
    parents: dict[int, list[int]] = {}
    times: dict[int, float] = {}
    tick = os.sysconf("SC_CLK_TCK")
    for pid, fields in processes().items():
        parents.setdefault(int(fields[1]), []).append(pid)
        times[pid] = sum(int(x) for x in fields[11:15]) / tick  # utime stime cutime cstime
    total, todo = 0.0, [root]
    while todo:
        pid = todo.pop()
        total += times.get(pid, 0.0)
        todo += parents.get(pid, [])
    return total
