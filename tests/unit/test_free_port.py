"""Ports for local stacks: below the kernel's ephemeral range, and never the same for two live
processes (CI once lost its whole end-to-end stack to "port already in use": the Prefect
server's port, from ``bind(0)``, had been handed to an outgoing connection meanwhile)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

from sandbox.procs import PORT_CLAIMS, _claim, _ephemeral_floor, free_port

PICK = ("import sys, time; from sandbox.procs import free_port; "
        "print(' '.join(str(free_port()) for _ in range({n})), flush=True); sys.stdin.read()")


def test_a_port_is_below_the_ephemeral_range_and_free_to_listen_on() -> None:
    port = free_port()
    assert 10000 <= port < _ephemeral_floor()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))
        sock.listen()


def test_two_live_processes_never_get_the_same_port() -> None:
    # 300 picks each from ~22,000 ports: without the claims, some would coincide (about 4 expected).
    other = subprocess.Popen([sys.executable, "-c", PICK.format(n=300)], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": os.getcwd()})
    try:
        assert other.stdout is not None
        theirs = {int(p) for p in other.stdout.readline().split()}
        assert len(theirs) == 300
        mine = {free_port() for _ in range(300)}
        assert len(mine) == 300
        assert not mine & theirs
    finally:
        other.communicate(timeout=30)


def test_a_claim_left_by_an_ended_process_is_taken_over() -> None:
    ended = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                           text=True, check=True)
    port = 9999  # below the range free_port picks from, so no live claim of the suite's own collides
    PORT_CLAIMS.mkdir(parents=True, exist_ok=True)
    (PORT_CLAIMS / str(port)).write_text(ended.stdout.strip())
    try:
        assert _claim(port)
        assert (PORT_CLAIMS / str(port)).read_text() == str(os.getpid())
        assert not _claim(port), "a port this process holds is not handed out twice"
    finally:
        (PORT_CLAIMS / str(port)).unlink()
