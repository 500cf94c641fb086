"""`make up` stops on Ctrl-C, all of its processes (issue 28; xuncha.orchestration.stack.supervise, what `xuncha up`
runs `airflow standalone` under).

A real supervisor process runs a stand-in for `airflow standalone` that behaves as it does on Ctrl-C: it ignores
SIGINT and never reaps its components; its components include one that left the process group (its own session),
an orphaned grandchild, and (one case) one that ignores SIGTERM. The test sends SIGINT to the whole foreground
process group, as a terminal does on Ctrl-C, and checks that every process is gone (not even a zombie), in bounded
time. Starting the real Airflow stack takes minutes; the supervisor's code path is the one `xuncha up` runs.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import psutil
import pytest

from xuncha.orchestration import stack

STANDALONE = r"""
import os, signal, subprocess, sys, time
pids, stubborn = sys.argv[1], sys.argv[2] == "1"
sleep = [sys.executable, "-c", "import time; time.sleep(600)"]
kids = [subprocess.Popen(sleep) for _ in range(2)]                       # scheduler, api-server
kids.append(subprocess.Popen(sleep, start_new_session=True))              # one that left the process group
if stubborn:                                                              # one that ignores SIGTERM
    kids.append(subprocess.Popen([sys.executable, "-c",
                                  "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(600)"]))
middle = subprocess.run([sys.executable, "-c", "import subprocess, sys; "
                         "print(subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)'], "
                         "stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).pid)"],
                        capture_output=True, text=True)                   # its grandchild is orphaned at once
signal.signal(signal.SIGINT, signal.SIG_IGN)                              # standalone does not stop on Ctrl-C
with open(pids + ".tmp", "w") as f:
    f.write(" ".join(str(p) for p in [os.getpid(), *(k.pid for k in kids), int(middle.stdout)]))
os.rename(pids + ".tmp", pids)
if len(sys.argv) > 3:                                                     # ends by itself, leaving its components
    sys.exit(int(sys.argv[3]))
while True:
    time.sleep(1)                                                         # never reaps: dead components stay zombies
"""
SUPERVISOR = ("import sys; from xuncha.orchestration import stack; "
              "sys.exit(stack.supervise(sys.argv[2:], None, grace_seconds=float(sys.argv[1])))")


def _up(tmp_path, grace: float, *standalone_args: str) -> tuple[subprocess.Popen, list[int]]:
    """The supervisor in a process group of its own (as a terminal's foreground job) and the pids it runs."""
    pids = tmp_path / "pids"
    proc = subprocess.Popen([sys.executable, "-c", SUPERVISOR, str(grace), sys.executable, "-c", STANDALONE, str(pids),
                             *standalone_args], start_new_session=True, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not pids.exists() and time.monotonic() < deadline and (proc.poll() is None or standalone_args[1:]):
        time.sleep(0.1)
    if not pids.exists():
        os.killpg(proc.pid, signal.SIGTERM)   # the supervisor stops what it started
        pytest.fail(f"the stand-in never started its components: {proc.communicate(timeout=30)[1][-2000:]}")
    return proc, [int(p) for p in pids.read_text().split()]


def _reap(make, pids: list[int]) -> None:
    """Kill what a test's `make up` or stand-in stack left (its process group and the stand-in services), whatever
    the test found."""
    if make.poll() is None:
        os.killpg(make.pid, signal.SIGKILL)
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def _left(pids: list[int]) -> list[str]:
    out = []
    for pid in pids:
        try:
            out.append(f"{pid} {psutil.Process(pid).status()}")
        except psutil.NoSuchProcess:
            pass
    return out


@pytest.mark.parametrize("stubborn", [False, True], ids=["components-stop-on-sigterm", "one-ignores-sigterm"])
def test_ctrl_c_stops_the_stack_and_every_process_it_started(tmp_path, stubborn):
    grace = 3.0
    proc, pids = _up(tmp_path, grace, "1" if stubborn else "0")
    try:
        assert len(pids) == (6 if stubborn else 5) and not [p for p in _left(pids) if p.endswith("zombie")]
        time.sleep(0.5)
        started = time.monotonic()
        os.killpg(proc.pid, signal.SIGINT)   # Ctrl-C: the terminal signals the whole foreground process group
        assert proc.wait(timeout=grace + 30) == 130
        took = time.monotonic() - started
    finally:
        _reap(proc, pids)
    assert _left(pids) == [], "processes left after Ctrl-C"
    assert took < (grace + 10 if stubborn else grace), f"stopping took {took:.1f} s"


def test_a_stack_that_ends_by_itself_leaves_no_component_behind(tmp_path):
    proc, pids = _up(tmp_path, 3.0, "0", "3")
    assert proc.wait(timeout=30) == 3
    assert _left(pids) == []


def test_a_killed_supervisor_still_stops_the_stack_it_ran(tmp_path):
    """Even SIGKILL of the supervisor (nothing of ours runs) gives the stand-in the SIGTERM standalone stops on."""
    proc, pids = _up(tmp_path, 3.0, "0")
    try:
        proc.kill()
        proc.wait(10)
        deadline = time.monotonic() + 10
        while psutil.pid_exists(pids[0]) and psutil.Process(pids[0]).status() != psutil.STATUS_ZOMBIE:
            assert time.monotonic() < deadline, "the stand-in outlived its supervisor"
            time.sleep(0.1)
    finally:
        _reap(proc, pids)


UP_RECIPE = ("import sys; from xuncha.orchestration import stack\n"
             "with stack.foreground() as moved:\n"
             "    print('ready, in the foreground:', moved, flush=True)\n"
             "    code = stack.supervise([sys.executable, '-c', 'import time; time.sleep(600)'], None, grace_seconds=3)\n"
             "print('stopped', code, flush=True)\n"
             "sys.exit(0 if code == 130 else code)\n")


def test_ctrl_c_in_a_terminal_reaches_make_up_alone_so_make_exits_cleanly(tmp_path):
    """`make up` in a real terminal (a pty whose foreground job is make): Ctrl-C (the ^C byte, the terminal's SIGINT)
    reaches only the command `stack.foreground` moved into the foreground, so make reports no interrupt and exits 0;
    without it GNU make (which gets the SIGINT too) prints `*** [Makefile:…: up] Interrupt`."""
    import fcntl
    import pty
    import termios

    (tmp_path / "up.py").write_text(UP_RECIPE, encoding="utf-8")
    (tmp_path / "Makefile").write_text(f".PHONY: up\nup:\n\t@{sys.executable} up.py\n", encoding="utf-8")
    master, slave = pty.openpty()

    def controlling_terminal():   # after setsid: the pty becomes make's terminal, make its foreground job
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)

    env = os.environ | {"PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.Popen(["make", "--no-print-directory", "up"], cwd=tmp_path, stdin=slave, stdout=slave, stderr=slave,
                            start_new_session=True, preexec_fn=controlling_terminal, env=env)
    os.close(slave)
    out = b""

    def read_until(word: bytes, timeout: float) -> bool:
        nonlocal out
        import select

        end = time.monotonic() + timeout
        while word not in out and time.monotonic() < end:
            if select.select([master], [], [], 0.2)[0]:
                try:
                    out += os.read(master, 4096)
                except OSError:
                    break
        return word in out

    try:
        assert read_until(b"ready", 60), out.decode(errors="replace")
        time.sleep(0.5)
        os.write(master, b"\x03")   # Ctrl-C
        assert proc.wait(timeout=30) == 0, out.decode(errors="replace")
        read_until(b"\x00", 1)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        os.close(master)
    text = out.decode(errors="replace")
    assert "in the foreground: True" in text and "stopped 130" in text and "Interrupt" not in text and "Error" not in text, text


def test_make_up_says_the_address_only_once_the_api_server_answers_and_says_so_when_it_never_does():
    """`xuncha up` prints the UI address when /api/v2/monitor/health answers 200 (stack.wait_until_answers), not before:
    a real HTTP server on 127.0.0.1 that is not listening yet, then answers 503 (starting), then 200."""
    import http.server
    import socket
    import threading

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    healthy = threading.Event()

    class Health(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200 if healthy.is_set() else 503)
            self.end_headers()

        def log_message(self, *args):
            pass

    said: list[tuple[str, float]] = []
    url = f"http://127.0.0.1:{port}/api/v2/monitor/health"
    waiter = stack.wait_until_answers(url, 60, lambda s: said.append(("ready", s)), lambda s: said.append(("late", s)),
                                      interval=0.1)
    time.sleep(1.0)
    assert said == [], "nothing listens yet"
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Health)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        time.sleep(1.0)
        assert said == [], "503 (still starting) is not up"
        healthy.set()
        waiter.join(10)
        assert [w for w, _ in said] == ["ready"] and said[0][1] >= 2.0, said
    finally:
        server.shutdown()
        server.server_close()
    late: list[tuple[str, float]] = []
    stack.wait_until_answers(url, 1.0, lambda s: late.append(("ready", s)), lambda s: late.append(("late", s)),
                             interval=0.1).join(15)
    assert late == [("late", 1.0)]


def test_make_down_stops_this_checkouts_airflow_services_by_name_and_leaves_another_checkouts_alone(tmp_path):
    """`make down` (xuncha db stop → stack.stop_services): real processes that look like `airflow scheduler` and
    `airflow api-server` (one ignoring SIGTERM) of this AIRFLOW_HOME are named and stopped; the same commands of
    another AIRFLOW_HOME keep running."""
    sleep = ("import signal, sys, time\nif 'stubborn' in sys.argv: signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
             "print('ready', flush=True)\ntime.sleep(600)")
    ours, theirs = tmp_path / "ours", tmp_path / "theirs"

    def service(home, *argv):
        return subprocess.Popen([sys.executable, "-c", sleep, str(tmp_path / "bin" / "airflow"), *argv],
                                env=os.environ | {"AIRFLOW_HOME": str(home)}, stdout=subprocess.PIPE, text=True)

    procs = [service(ours, "scheduler"), service(ours, "api-server", "stubborn"), service(theirs, "scheduler")]
    try:
        assert [p.stdout.readline().strip() for p in procs] == ["ready"] * 3   # the stubborn one ignores SIGTERM now
        said: list[str] = []
        assert stack.stop_services(str(ours), said.append, grace_seconds=2) == 2
        assert procs[0].wait(10) is not None and procs[1].wait(10) is not None
        assert procs[2].poll() is None, "another checkout's scheduler was touched"
        assert f"stopping Airflow scheduler (pid {procs[0].pid})" in said and \
            f"stopping Airflow api-server (pid {procs[1].pid})" in said, said
        assert any(line.startswith("still running after 2 s") for line in said), said
        assert stack.services(str(ours)) == [] and stack.stop_services(str(ours), said.append) == 0
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait(10)


FAKE_STANDALONE = r"""
import signal, subprocess, sys, time
airflow, pids, end = sys.argv[1], sys.argv[3], sys.argv[4]
sleep = [sys.executable, "-c", "import time; time.sleep(600)", airflow]
kids = [subprocess.Popen(sleep + [name]) for name in ("scheduler", "api-server")]   # `airflow scheduler`, …
signal.signal(signal.SIGINT, signal.SIG_IGN)                                         # as standalone: not on Ctrl-C
with open(pids + ".tmp", "w") as f:
    f.write(" ".join(str(p) for p in [__import__("os").getpid(), *(k.pid for k in kids)]))
__import__("os").rename(pids + ".tmp", pids)
if end != "run":
    time.sleep(0.5)
    sys.exit(int(end))                                                               # a real failure
while True:
    time.sleep(1)
"""
MAKE_UP = ("import os, sys; from xuncha.orchestration import stack\n"
           "home, pids, end, pidfile = sys.argv[1:5]\n"
           "code = stack.supervise([sys.executable, 'standalone.py', os.path.join(home, 'bin', 'airflow'), 'standalone',\n"
           "                        pids, end], dict(os.environ, AIRFLOW_HOME=home), grace_seconds=3,\n"
           "                        pidfile=os.path.join(home, stack.PIDFILE) if pidfile == 'pidfile' else None)\n"
           "print('supervise returned', code, flush=True)\n"
           "sys.exit(stack.shell_status(code))\n")


def _make_up(tmp_path, end: str = "run", pidfile: str = "pidfile") -> tuple[subprocess.Popen, list[int], str]:
    """`make up` as the Makefile runs it (a recipe whose command is `xuncha up`'s supervisor and exit status) over a
    stand-in for `airflow standalone` and two components named as Airflow's; (make, the stand-in's pids, AIRFLOW_HOME)."""
    home = tmp_path / "airflow-home"
    home.mkdir()
    (tmp_path / "standalone.py").write_text(FAKE_STANDALONE, encoding="utf-8")
    (tmp_path / "up.py").write_text(MAKE_UP, encoding="utf-8")
    (tmp_path / "Makefile").write_text(f".PHONY: up\nup:\n\t{sys.executable} up.py {home} pids {end} {pidfile}\n",
                                       encoding="utf-8")
    env = os.environ | {"PYTHONPATH": os.pathsep.join(sys.path)}
    make = subprocess.Popen(["make", "--no-print-directory", "up"], cwd=tmp_path, env=env, start_new_session=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    pids = tmp_path / "pids"
    deadline = time.monotonic() + 60
    while not pids.exists() and time.monotonic() < deadline and make.poll() is None:
        time.sleep(0.1)
    assert pids.exists(), make.communicate(timeout=30)[0]
    return make, [int(p) for p in pids.read_text().split()], str(home)


@pytest.mark.parametrize("pidfile", ["pidfile", "none"], ids=["stops-the-supervisor", "stops-the-services-only"])
def test_make_down_from_another_shell_ends_make_up_with_status_0(tmp_path, pidfile):
    """The trial's `make: *** [Makefile:80: up] Error 241`: `make down` SIGTERMed `airflow standalone` under the
    supervisor, which passed on Popen's -15 (241 to the shell). Now `make down` stops the supervisor itself (found by
    its pid file in AIRFLOW_HOME), and a command ended by SIGTERM is a stop asked for too (no pid file: an older
    `xuncha up`, or a `kill` of standalone): `make up` exits 0 either way, every process gone."""
    make, pids, home = _make_up(tmp_path, pidfile=pidfile)
    try:
        up = stack.supervisor(home)
        assert (up is not None and "up.py" in up.cmdline()) if pidfile == "pidfile" else up is None
        said: list[str] = []
        found = stack.stop_services(home, said.append, grace_seconds=3)   # what `make down` runs
        out = make.communicate(timeout=60)[0]
    finally:
        _reap(make, pids)
    assert make.returncode == 0 and "Error" not in out, out
    assert "supervise returned 143" in out, out
    assert _left(pids) == [], "processes left after make down"
    if pidfile == "pidfile":
        assert found == 4 and said[0].startswith("stopping `xuncha up` (pid ") and "scheduler (pid " in said[0], said
        assert not os.path.exists(os.path.join(home, stack.PIDFILE)), "the supervisor removed its pid file"
    else:
        assert found == 3 and f"stopping Airflow standalone (pid {pids[0]})" in said, said


@pytest.mark.parametrize("end", ["3", "kill"], ids=["exits-3", "killed"])
def test_make_up_still_fails_when_the_stack_really_fails(tmp_path, end):
    """A real failure is not a stop: standalone exiting 3, or killed by SIGKILL (the OOM killer), ends `make up` with
    an error (statuses 3 and 137)."""
    make, pids, _ = _make_up(tmp_path, end="run" if end == "kill" else end)
    try:
        if end == "kill":
            os.kill(pids[0], signal.SIGKILL)
        out = make.communicate(timeout=60)[0]
    finally:
        _reap(make, pids)
    want = "3" if end == "3" else "137"
    assert make.returncode != 0 and f"supervise returned {want}" in out and f"Error {want}" in out, out
    assert _left(pids) == []
