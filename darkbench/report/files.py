"""Writing the report's files: atomically, and only files the report itself owns in --out."""
import json
import os
import stat

from .. import files
from ..errors import DarkbenchError

MANIFEST = ".darkbench-report.json"   # what the last run wrote, so stale outputs can go and nothing else


def _read_manifest(path):
    """The relative names a previous run wrote; [] for a missing or malformed manifest (never trusted
    further than that: finish() deletes only regular files strictly inside --out)."""
    try:
        if not stat.S_ISREG(os.lstat(path).st_mode):  # a FIFO would block open()
            return []
        with open(path) as f:
            data = json.load(f)
    except (OSError, ValueError):
        return []
    return [p for p in data if isinstance(p, str)] if isinstance(data, list) else []


def _inside(root, path):
    """path (symlinks resolved) is strictly inside root (symlinks resolved)."""
    r, p = os.path.realpath(root), os.path.realpath(path)
    return p != r and os.path.commonpath([r, p]) == r


class Out:
    """The --out directory: every write goes through here and is recorded. Files are kept in memory
    and written by finish(), after checking that none of them would replace a file the user made."""

    def __init__(self, root, force=False):
        self.root = root = files.out_dir(root)
        self.force = force
        self.pending = {}   # rel -> bytes or str, in the order written
        self.previous = _read_manifest(self.path(MANIFEST))

    def path(self, rel):
        return os.path.join(self.root, rel)

    def write(self, rel, content):
        """Queue text or bytes for `rel`; returns its path under --out."""
        self.pending[rel] = content
        return self.path(rel)

    def copy(self, src, rel):
        with open(src, "rb") as f:
            return self.write(rel, f.read())

    def unique(self, rel):
        """rel, or rel with -2, -3... when this run already wrote that name (two hosts' bench.json)."""
        base, ext = os.path.splitext(rel)
        n, cand = 1, rel
        while cand in self.pending:
            n += 1
            cand = f"{base}-{n}{ext}"
        return cand

    def check(self, *rels):
        """Refuse, before anything is written, a file the report did not write (unless --force) and
        anything that is not a regular file."""
        for rel in rels:
            p = self.path(rel)
            if not os.path.lexists(p):
                continue
            if rel not in self.previous and rel != MANIFEST and not self.force:
                raise DarkbenchError("exists and was not written by darkbench report; not overwritten "
                                     "(use --force to replace it)", p)
            files.target(p, overwrite=True)

    def _write_all(self):
        """Write every queued file; returns the names written (all of them, or raises)."""
        done = []
        try:
            for rel, content in self.pending.items():
                p = self.path(rel)
                try:
                    os.makedirs(os.path.dirname(p), exist_ok=True)
                except OSError as e:
                    raise DarkbenchError(f"cannot create the directory: {e.strerror or e}",
                                         os.path.dirname(p)) from None
                files.write(p, content, overwrite=True)
                done.append(rel)
        except BaseException:
            # what did get written is ours now: record it, so the next run may replace it
            try:
                self._manifest(sorted(set(self.previous) | set(done)))
            except DarkbenchError:
                pass
            raise
        return done

    def _manifest(self, names):
        files.write(self.path(MANIFEST), json.dumps(names, indent=1), overwrite=True)

    def _stale(self, rel):
        """A previous output this run did not write, that is safe to delete: a plain relative name of a
        regular file (not a link) whose real path is strictly inside --out."""
        if rel == MANIFEST or os.path.isabs(rel) or ".." in rel.replace("\\", "/").split("/"):
            return False
        p = self.path(rel)
        try:
            if not stat.S_ISREG(os.lstat(p).st_mode):
                return False
        except OSError:
            return False
        return _inside(self.root, p)

    def finish(self):
        """Write the report, if none of it replaces a file the user made; then remove what the previous
        run wrote and this one did not (never a file the report did not write), and record what it wrote."""
        self.check(*self.pending, MANIFEST)
        done = self._write_all()
        kept = []   # stale outputs that could not be removed stay ours
        for rel in set(self.previous) - set(done):
            if self._stale(rel):
                try:
                    os.unlink(self.path(rel))
                except OSError:
                    kept.append(rel)
        self._manifest(sorted(set(done) | set(kept)))
