"""Compiler chatter (inductor's AUTOTUNE tables, C++ compiler output, warnings) kept off the terminal."""
import contextlib
import os
import sys
import tempfile


@contextlib.contextmanager
def quiet(tail=40):
    """Everything written inside to fds 1 and 2 (C and subprocesses) or to sys.stdout / sys.stderr goes to a
    temporary log; when the block raises, the log's last `tail` lines go to stderr before the exception."""
    log = tempfile.TemporaryFile(mode="w+", buffering=1, prefix="darkbench-compile-")  # lines in order
    for s in (sys.stdout, sys.stderr):
        s.flush()
    saved = [os.dup(1), os.dup(2)]
    try:
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
        try:
            with contextlib.redirect_stdout(log), contextlib.redirect_stderr(log):
                yield
        finally:
            log.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
    except BaseException:
        os.lseek(log.fileno(), 0, os.SEEK_SET)
        with open(log.fileno(), "rb", closefd=False) as f:
            lines = f.read().decode(errors="replace").splitlines()[-tail:]
        if lines:
            print("\n".join(["compiler output before the error:"] + lines), file=sys.stderr, flush=True)
        raise
    finally:
        for fd in saved:
            os.close(fd)
        log.close()
