"""Drives a command through a pseudo-terminal, as a person at a keyboard would.

Usage: drive_terminal.py SCRIPT_JSON -- COMMAND [ARGS...]
SCRIPT_JSON is a list of [expected, answer] pairs: wait until the output shows `expected` (a
substring, within 20 s), then type `answer` and Enter. Prints the whole transcript, then a last
line `exit=<status>`; exits 0 if every prompt appeared, 1 otherwise.
"""
import json
import os
import pty
import select
import signal
import sys
import time

steps = json.loads(sys.argv[1])
command = sys.argv[sys.argv.index("--") + 1:]

pid, fd = pty.fork()
if pid == 0:
    os.execvp(command[0], command)

transcript = b""
seen = 0


def read_until(needle, timeout=20.0):
    global transcript, seen
    deadline = time.time() + timeout
    while True:
        index = transcript.find(needle.encode(), seen)
        if index >= 0:
            seen = index + len(needle)
            return True
        remaining = deadline - time.time()
        if remaining <= 0:
            return False
        ready, _, _ = select.select([fd], [], [], remaining)
        if ready:
            try:
                chunk = os.read(fd, 4096)
            except OSError:
                return False
            if not chunk:
                return False
            transcript += chunk


ok = True
for expected, answer in steps:
    if not read_until(expected):
        ok = False
        break
    os.write(fd, (answer + "\n").encode())
if not ok:
    # The command is waiting for an answer the script does not have: stop it rather than wait
    # with it, and say which prompt never came.
    os.kill(pid, signal.SIGTERM)
    transcript += ("\n[drive_terminal: never saw %r]" % expected).encode()

# Drain what is left until the command exits.
while True:
    try:
        chunk = os.read(fd, 4096)
    except OSError:
        break
    if not chunk:
        break
    transcript += chunk
_, status = os.waitpid(pid, 0)
sys.stdout.write(transcript.decode("utf-8", "replace"))
sys.stdout.write("\nexit=%d\n" % os.waitstatus_to_exitcode(status))
sys.exit(0 if ok else 1)
