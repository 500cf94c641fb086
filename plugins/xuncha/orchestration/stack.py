"""`xuncha up` in the foreground: `airflow standalone` and every process it starts, stopped as one by Ctrl-C.

`airflow standalone` does not stop on Ctrl-C: the terminal's SIGINT reaches its components too (they share its
process group), they exit, and standalone sleeps on with them as zombies (issue 28; SIGTERM does stop it).
`supervise` therefore runs the command in a session of its own (the terminal's SIGINT reaches only us), makes
this process a child subreaper (Linux prctl PR_SET_CHILD_SUBREAPER: a component whose parent died is re-parented
to us, not to init, so we see and reap it), and on SIGINT, SIGTERM or SIGHUP sends SIGTERM to the session's process
group and to every descendant, waits `grace_seconds`, SIGKILLs what is left, and reaps every child. When the
command ends by itself, its leftovers are stopped the same way. Should the supervisor itself be killed (SIGKILL),
the command gets SIGTERM from the kernel (PR_SET_PDEATHSIG). Imports no Airflow (psutil, a dependency of
Airflow, lists descendants).

`make down` (`stop_services`) finds the supervisor by its pid file in AIRFLOW_HOME and stops it with SIGTERM, as
Ctrl-C does, so `make up` ends with status 0 (`shell_status`); before, it killed `airflow standalone` under the
supervisor, which passed on Popen's -15 and `make up` ended `Error 241` (issue 15's trial).

`foreground` makes Ctrl-C reach this process alone (not `make`, which would otherwise report the stop as an error),
and `wait_until_answers` polls the API server's health endpoint so the address is printed only when it serves.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

log = logging.getLogger(__name__)

PIDFILE = "xuncha-up.pid"
"""The file in AIRFLOW_HOME that holds the pid of the `xuncha up` supervising the stack (`supervise`'s `pidfile`), so
`make down` (`stop_services`) asks the supervisor to stop, as Ctrl-C does, rather than killing its command under it."""
STOP_STATUSES = tuple(128 + s for s in (2, 15, 1))
"""Shell statuses of a stop asked for (SIGINT: Ctrl-C, SIGTERM: `make down`, SIGHUP: the terminal closed), to the
supervisor or to its command: `xuncha up` exits 0 on them (`shell_status`)."""
GRACE_SECONDS = 20.0
"""How long the components get to stop after SIGTERM (the scheduler finishes its loop, the API server its
requests) before SIGKILL."""
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def _become_subreaper() -> bool:
    """Make this process the reaper of its orphaned descendants (Linux ≥ 3.4); False where unsupported."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(36, 1, 0, 0, 0) == 0   # PR_SET_CHILD_SUBREAPER
    except (OSError, AttributeError):
        return False


def _die_with_parent() -> None:
    """In the child, before exec: SIGTERM when the supervisor dies, even by SIGKILL (Linux PR_SET_PDEATHSIG), the
    signal `airflow standalone` does stop on. Best effort: nothing happens where prctl is missing."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM, 0, 0, 0)   # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _descendants() -> list:
    """This process's living descendants (psutil.Process), zombies excluded."""
    import psutil

    out = []
    for p in psutil.Process().children(recursive=True):
        try:
            if p.status() != psutil.STATUS_ZOMBIE:
                out.append(p)
        except psutil.NoSuchProcess:
            pass
    return out


def _reap(main: subprocess.Popen) -> None:
    """Collect every child of ours that has exited (the command through Popen, orphans by pid)."""
    import psutil

    main.poll()
    for p in psutil.Process().children():
        if p.pid == main.pid:
            continue
        try:
            os.waitpid(p.pid, os.WNOHANG)
        except ChildProcessError:
            pass


def _signal_all(main: subprocess.Popen, sig: int) -> None:
    """`sig` to the command's process group and to every descendant (one that left the group too)."""
    import psutil

    try:
        os.killpg(main.pid, sig)
    except (ProcessLookupError, PermissionError):
        pass
    for p in _descendants():
        try:
            p.send_signal(sig)
        except psutil.NoSuchProcess:
            pass


def stop_all(main: subprocess.Popen, grace_seconds: float = GRACE_SECONDS) -> None:
    """SIGTERM the command and all its descendants, SIGKILL what is left after `grace_seconds`, reap them all.
    Returns when no descendant is left (at most `grace_seconds` + 10 s)."""
    _signal_all(main, signal.SIGTERM)
    deadline = time.monotonic() + grace_seconds
    while _descendants() and time.monotonic() < deadline:
        _reap(main)
        time.sleep(0.1)
    if _descendants():
        log.warning("still running after %.0f s: %s; killing them", grace_seconds,
                    ", ".join(f"{p.pid}" for p in _descendants()))
        _signal_all(main, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        _reap(main)
        if main.returncode is not None and not _descendants():
            break
        time.sleep(0.05)
    _reap(main)


def supervise(argv: Sequence[str], env: dict[str, str] | None = None, grace_seconds: float = GRACE_SECONDS,
              pidfile: os.PathLike | str | None = None) -> int:
    """Run `argv` (with `env`) in the foreground until it ends or this process gets SIGINT/SIGTERM/SIGHUP; then
    stop it and everything it started (`stop_all`). Returns the exit status for the shell: 128 + the signal
    when stopped by one (130 for Ctrl-C), else the command's own, 128 + its signal when a signal ended it (Popen's
    negative code, which `exit` would have wrapped to 241 for SIGTERM). `pidfile`: written with this process's pid
    while the command runs (`supervisor` finds it there), removed after. Raises OSError when `argv` cannot be started."""
    _become_subreaper()
    got: list[int] = []
    previous = {s: signal.signal(s, lambda signum, frame: got.append(signum)) for s in STOP_SIGNALS}
    try:
        main = subprocess.Popen(list(argv), env=env, start_new_session=True, preexec_fn=_die_with_parent)
        _write_pid(pidfile)
        try:
            while not got and main.poll() is None:
                time.sleep(0.2)
        finally:
            stop_all(main, grace_seconds)
            _remove_pid(pidfile)
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
    if got:
        return 128 + got[0]
    code = main.returncode if main.returncode is not None else 1
    return 128 - code if code < 0 else code


def shell_status(code: int) -> int:
    """`xuncha up`'s exit status from `supervise`'s: 0 for a stop asked for (STOP_STATUSES: Ctrl-C, `make down`'s
    SIGTERM, a closed terminal), so `make up` reports no error; any other status as it is (a real failure: the
    command's own non-zero exit, or SIGKILL 137, SIGSEGV 139)."""
    return 0 if code in STOP_STATUSES else code


def _write_pid(pidfile) -> None:
    if pidfile is not None:
        path = os.fspath(pidfile)
        os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
        with open(path + ".tmp", "w", encoding="ascii") as f:
            f.write(f"{os.getpid()}\n")
        os.replace(path + ".tmp", path)


def _remove_pid(pidfile) -> None:
    """Remove `pidfile` if it still names this process (a newer `xuncha up` may have written its own)."""
    if pidfile is None:
        return
    try:
        with open(pidfile, encoding="ascii") as f:
            if f.read().strip() == str(os.getpid()):
                os.remove(pidfile)
    except (OSError, ValueError):
        pass


def supervisor(airflow_home: str):
    """The `xuncha up` process supervising the stack of `airflow_home` (psutil.Process, from AIRFLOW_HOME/PIDFILE),
    or None: no file, or its pid is gone or was reused since (a process started after the file was written)."""
    import psutil

    path = os.path.join(airflow_home, PIDFILE)
    try:
        with open(path, encoding="ascii") as f:
            pid = int(f.read().strip())
        written = os.stat(path).st_mtime
        proc = psutil.Process(pid)
        if pid == os.getpid() or proc.create_time() > written + 1 or proc.status() == psutil.STATUS_ZOMBIE:
            return None
        return proc
    except (OSError, ValueError, psutil.Error):
        return None


@contextmanager
def foreground() -> Iterator[bool]:
    """While inside, this process leads a process group of its own that is the terminal's foreground group, so the
    terminal's Ctrl-C (SIGINT) reaches it alone: `make up`'s `make` (in the shell's group) sees a clean exit, not
    an interrupt. Restores the previous foreground group on leaving. Yields False (and changes nothing) when stdin
    is not a terminal, this process runs in the background, or job control is unavailable (POSIX tcsetpgrp; SIGTTOU is ignored around the calls)."""
    fd, before = 0, None
    try:
        if os.isatty(fd) and os.getpid() != os.getsid(0) and os.tcgetpgrp(fd) == os.getpgrp():   # a foreground job
            before = os.tcgetpgrp(fd)
            os.setpgid(0, 0)
            old = signal.signal(signal.SIGTTOU, signal.SIG_IGN)
            try:
                os.tcsetpgrp(fd, os.getpgrp())
            except OSError:
                os.setpgid(0, before)   # back into the job's group, so Ctrl-C still reaches us
                raise
            finally:
                signal.signal(signal.SIGTTOU, old)
    except OSError:
        before = None
    try:
        yield before is not None
    finally:
        if before is not None:
            old = signal.signal(signal.SIGTTOU, signal.SIG_IGN)
            try:
                os.tcsetpgrp(fd, before)
            except OSError:
                pass
            finally:
                signal.signal(signal.SIGTTOU, old)


def wait_until_answers(url: str, timeout_seconds: float, on_ready: Callable[[float], None],
                       on_timeout: Callable[[float], None], interval: float = 1.0) -> "threading.Thread":
    """Poll `url` (HTTP GET, 5 s per request) in a daemon thread until it answers 200, then call on_ready(seconds
    waited); after `timeout_seconds` without an answer call on_timeout(timeout_seconds) instead. Returns the thread.
    For `xuncha up`: Airflow's API server's /api/v2/monitor/health (public, no login)."""
    import threading
    import urllib.request

    def poll() -> None:
        started = time.monotonic()
        while time.monotonic() - started < timeout_seconds:
            try:
                with urllib.request.urlopen(url, timeout=5) as response:
                    if response.status == 200:
                        on_ready(time.monotonic() - started)
                        return
            except OSError:   # refused, reset, timed out, HTTP errors: not serving yet
                pass
            time.sleep(interval)
        on_timeout(timeout_seconds)

    thread = threading.Thread(target=poll, name="wait-for-api-server", daemon=True)
    thread.start()
    return thread


SERVICES = ("standalone", "scheduler", "dag-processor", "triggerer", "api-server")
"""The Airflow commands `xuncha up` runs (`airflow standalone` and the components it starts)."""


def services(airflow_home: str) -> list[tuple[int, str]]:
    """The Airflow processes of the stack of `airflow_home` still running (a `make up` left open, or its leftovers):
    (pid, service name), found by command line (`airflow <service>`) and the AIRFLOW_HOME in their environment, so
    another checkout's stack on the same machine is never matched. Processes we may not inspect are skipped."""
    import psutil

    found = []
    for p in psutil.process_iter(["pid", "cmdline"]):
        cmd = p.info.get("cmdline") or []
        at = [i for i, a in enumerate(cmd) if os.path.basename(a) == "airflow"]
        name = next((cmd[i + 1] for i in at if i + 1 < len(cmd) and cmd[i + 1] in SERVICES), None)
        if name is None:
            continue
        try:
            if p.environ().get("AIRFLOW_HOME") == str(airflow_home):
                found.append((p.pid, name))
        except (psutil.Error, OSError):
            pass
    return found


def stop_services(airflow_home: str, say: Callable[[str], None], grace_seconds: float = GRACE_SECONDS) -> int:
    """Stop the stack of `airflow_home`: first its `xuncha up` supervisor (`supervisor`), with SIGTERM, as Ctrl-C
    would: it stops everything it started and `make up` exits 0; then every service still running (`services`; all of
    them when no supervisor runs): SIGTERM to each, SIGKILL to what is left after `grace_seconds`. `say` gets one line
    per process and per wait. Returns how many processes were found (the supervisor among them)."""
    import psutil

    found, up = services(airflow_home), supervisor(airflow_home)
    if up is not None:
        say(f"stopping `xuncha up` (pid {up.pid}), which stops the Airflow services it started: "
            + (", ".join(f"{name} (pid {pid})" for pid, name in found) or "none running"))
        try:
            up.terminate()
            up.wait(grace_seconds + 15)   # its own grace, SIGKILL of what is left and the reaping (stop_all)
        except psutil.TimeoutExpired:
            say(f"`xuncha up` (pid {up.pid}) still running after {grace_seconds + 15:.0f} s; stopping its services")
        except psutil.NoSuchProcess:
            pass
    left_over = services(airflow_home) if up is not None else found
    for pid, name in left_over:
        say(f"stopping Airflow {name} (pid {pid})")
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    left = [psutil.Process(pid) for pid, _ in left_over if psutil.pid_exists(pid)]
    if left:
        say(f"waiting for {len(left)} Airflow process(es) to end (at most {grace_seconds:.0f} s)")
        _, alive = psutil.wait_procs(left, timeout=grace_seconds)
        for p in alive:
            say(f"still running after {grace_seconds:.0f} s: pid {p.pid}; killing it")
            p.kill()
    return len(found) + (up is not None)
