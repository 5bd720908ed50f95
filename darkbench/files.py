"""Writing the user's output files: atomically, and never over anything that is not a regular file.

Every file darkbench writes (weights, ONNX, reports, bench results) goes through here, so --force means
"replace that file's contents" and nothing more: a symlink is followed (its target is written, the link
kept), a device, FIFO, socket or directory is refused, and the file keeps its permissions."""
import contextlib
import itertools
import os
import stat
import tempfile

from .errors import DarkbenchError

TMP_PREFIX = ".darkbench-tmp-"   # temporary files beside the target (same filesystem: os.replace is atomic)


def umask():
    m = os.umask(0)
    os.umask(m)
    return m


def _why(e):
    return e.strerror or str(e) or type(e).__name__


def out_dir(root):
    """An --out directory, made if missing; one line naming it when it cannot be."""
    root = os.fspath(root)
    if os.path.exists(root) and not os.path.isdir(root):
        raise DarkbenchError("--out exists and is not a directory", root)
    try:
        os.makedirs(root, exist_ok=True)
    except OSError as e:
        raise DarkbenchError(f"--out: cannot create the directory: {_why(e)}", root) from None
    return root


def target(path, overwrite=False):
    """(the real file a write of `path` lands on, its os.stat_result or None when new). Refuses, naming
    `path`: an empty path, a directory, anything but a regular file (even with overwrite: --force is
    for files), an existing file without overwrite, a missing directory."""
    path = os.fspath(path)
    if not path:
        raise DarkbenchError("the output path is empty")
    if path.endswith(os.sep):
        raise DarkbenchError("names a directory; give the file to write", path)
    real = os.path.realpath(path)  # a symlink's target is what gets written; the link stays
    try:
        st = os.stat(real)
    except FileNotFoundError:
        st = None
    except OSError as e:
        raise DarkbenchError(f"cannot write: {_why(e)}", path) from None
    if st is not None:
        if stat.S_ISDIR(st.st_mode):
            raise DarkbenchError("is a directory; give the file to write", path)
        if not stat.S_ISREG(st.st_mode):
            raise DarkbenchError("is not a regular file; not overwritten", path)
        if not overwrite:
            raise DarkbenchError("exists; not overwriting (use --force)", path)
    if not os.path.isdir(os.path.dirname(real)):
        raise DarkbenchError(f"directory {os.path.dirname(path) or '.'} does not exist", path)
    return real, st


def _settle(tmp, old):
    """mkstemp makes 0600: a new file gets the usual 0666 less the umask, a replaced one its old mode
    (and owner, where allowed)."""
    os.chmod(tmp, (old.st_mode & 0o777) if old else 0o666 & ~umask())
    if old is not None:
        with contextlib.suppress(OSError):
            os.chown(tmp, old.st_uid, old.st_gid)


@contextlib.contextmanager
def replacing(path, overwrite=False, suffix=""):
    """Yields the name of a temporary file beside where `path` lands, for the block to write; when the
    block succeeds it is renamed over the target (no reader sees half a file), when it fails it is removed.
    OSErrors become one-line DarkbenchErrors naming `path`."""
    path = os.fspath(path)
    real, old = target(path, overwrite)
    try:
        fd, tmp = tempfile.mkstemp(dir=os.path.dirname(real), prefix=TMP_PREFIX, suffix=suffix)
    except OSError as e:
        raise DarkbenchError(f"cannot write: {_why(e)}", path) from None
    os.close(fd)
    done = False
    try:
        yield tmp
        _settle(tmp, old)
        os.replace(tmp, real)
        done = True
    except OSError as e:
        raise DarkbenchError(f"cannot write: {_why(e)}", path) from None
    finally:
        if not done:
            with contextlib.suppress(OSError):
                os.unlink(tmp)


def write(path, content, overwrite=False, suffix=""):
    """Write str, bytes or a list of bytes to `path` atomically (see replacing)."""
    parts = [content] if isinstance(content, (str, bytes)) else content
    with replacing(path, overwrite, suffix) as tmp, open(tmp, "wb") as f:
        for p in parts:
            f.write(p.encode() if isinstance(p, str) else p)


def create_new(path, content=b""):
    """Create `path` exclusively (O_EXCL), or base-2.ext, base-3.ext ... when the name is taken, so two
    runs never share a file. Returns the name created; later writes of the same run replace it."""
    path = os.fspath(path)
    base, ext = os.path.splitext(path)
    for n in itertools.count(1):
        name = path if n == 1 else f"{base}-{n}{ext}"
        try:
            fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except FileExistsError:
            continue
        except OSError as e:
            raise DarkbenchError(f"cannot create: {_why(e)}", name) from None
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(content)
        except OSError as e:
            with contextlib.suppress(OSError):
                os.unlink(name)
            raise DarkbenchError(f"cannot write: {_why(e)}", name) from None
        return name
