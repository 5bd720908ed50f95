"""Compiler chatter (inductor's AUTOTUNE tables, C++ compiler output, warnings) kept off the terminal."""
import contextlib
import os
import sys
import tempfile


@contextlib.contextmanager
def quiet(tail=40):
    """Everything written to fds 1 and 2 (Python and C alike) inside goes to a temporary log; when the block
    raises, the log's last `tail` lines are written to stderr before the exception goes on."""
    log = tempfile.TemporaryFile(mode="w+b", prefix="darkbench-compile-")
    for s in (sys.stdout, sys.stderr):
        s.flush()
    saved = [os.dup(1), os.dup(2)]
    try:
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
        try:
            yield
        finally:
            for s in (sys.stdout, sys.stderr):
                s.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
    except BaseException:
        log.seek(0)
        lines = log.read().decode(errors="replace").splitlines()[-tail:]
        if lines:
            print("\n".join(["compiler output before the error:"] + lines), file=sys.stderr, flush=True)
        raise
    finally:
        for fd in saved:
            os.close(fd)
        log.close()

