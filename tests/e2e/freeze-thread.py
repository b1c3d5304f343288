#!/usr/bin/python3
# Usage: freeze-thread.py TID
# Stop the one thread TID (a QEMU vCPU thread) and keep it stopped, while
# the other threads of its process run on: SIGSTOP would stop them all, the
# QEMU monitor too. A ptrace stop is per thread. Prints "frozen TID" once it
# holds. SIGTERM or SIGINT: detach, the thread runs again. Ends by itself
# when the thread is gone (QEMU killed: SIGKILL ends a traced thread too).
import ctypes
import os
import signal
import sys

PTRACE_DETACH = 17
PTRACE_SEIZE = 0x4206
PTRACE_INTERRUPT = 0x4207
WALL = 0x40000000

libc = ctypes.CDLL(None, use_errno=True)
libc.ptrace.restype = ctypes.c_long
libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p]
tid = int(sys.argv[1])


def ptrace(request):
    if libc.ptrace(request, tid, None, None) != 0:
        err = ctypes.get_errno()
        sys.exit("freeze-thread: ptrace %#x %d: %s" % (request, tid, os.strerror(err)))


def release(signum, frame):
    libc.ptrace(PTRACE_DETACH, tid, None, None)
    sys.exit(0)


signal.signal(signal.SIGTERM, release)
signal.signal(signal.SIGINT, release)
ptrace(PTRACE_SEIZE)
ptrace(PTRACE_INTERRUPT)
os.waitpid(tid, WALL)
print("frozen %d" % tid, flush=True)
# Every later stop (a signal sent to the thread) is left as it is: the
# thread is never resumed while this runs.
while True:
    try:
        _, status = os.waitpid(tid, WALL)
    except ChildProcessError:
        break
    if os.WIFEXITED(status) or os.WIFSIGNALED(status):
        break
