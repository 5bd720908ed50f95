"""Writing the report's files: atomically, and only files the report itself owns in --out."""
import json
import os
import tempfile

from ..errors import DarkbenchError

MANIFEST = ".darkbench-report.json"   # what the last run wrote, so stale outputs can go and nothing else


def _umask():
    m = os.umask(0)
    os.umask(m)
    return m


class Out:
    """The --out directory: every write goes through here and is recorded."""

    def __init__(self, root):
        if os.path.exists(root) and not os.path.isdir(root):
            raise DarkbenchError("--out exists and is not a directory", root)
        self.root = root
        self.written = []
        os.makedirs(root, exist_ok=True)
        try:
            with open(os.path.join(root, MANIFEST)) as f:
                self.previous = [p for p in json.load(f) if isinstance(p, str)]
        except (OSError, ValueError):
            self.previous = []

    def path(self, rel):
        return os.path.join(self.root, rel)

    def write(self, rel, content):
        """Write text or bytes to a temporary file beside the target, then rename over it."""
        dest = self.path(rel)
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=os.path.dirname(dest), prefix=".report-")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(content.encode() if isinstance(content, str) else content)
            os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; the report is for reading
            os.replace(tmp, dest)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise
        self.written.append(rel)
        return dest

    def copy(self, src, rel):
        with open(src, "rb") as f:
            return self.write(rel, f.read())

    def unique(self, rel):
        """rel, or rel with -2, -3... when this run already wrote that name (two hosts' bench.json)."""
        base, ext = os.path.splitext(rel)
        n, cand = 1, rel
        while cand in self.written:
            n += 1
            cand = f"{base}-{n}{ext}"
        return cand

    def finish(self):
        """Remove what the previous run wrote and this one did not (never a file the report did not write)."""
        for rel in set(self.previous) - set(self.written):
            p = os.path.normpath(self.path(rel))
            if os.path.isabs(rel) or rel.startswith("..") or not p.startswith(os.path.normpath(self.root)):
                continue
            if os.path.isfile(p):
                os.unlink(p)
        self.write(MANIFEST, json.dumps(sorted(set(self.written)), indent=1))

