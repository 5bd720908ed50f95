"""Darknet .cfg reader: darknet's grammar, plus line numbers and strict values.

Grammar (as darknet's read_cfg): every space/tab is removed from a line; `[x]` opens a
section; empty, `#` and `;` lines are skipped; other lines are `key=value` split at the
first `=`. The first occurrence of a key wins. We also accept CRLF and a UTF-8 BOM,
and refuse what darknet silently misreads (no `=`, values that are not numbers).
"""
import math
import os
from dataclasses import dataclass, field

from .errors import DarkbenchError

MAX_CFG_BYTES = 16 * 1024 * 1024


@dataclass
class Section:
    name: str  # as written, without brackets
    line: int
    path: str
    options: dict = field(default_factory=dict)  # key -> (value, line)
    used: set = field(default_factory=set)

    # -- typed access; every miss or bad value names file and line --
    def has(self, key):
        return key in self.options

    def raw(self, key):
        self.used.add(key)
        return self.options[key]

    def _err(self, key, msg):
        line = self.options[key][1] if key in self.options else self.line
        return DarkbenchError(f"[{self.name}] {msg}", self.path, line)

    def get_str(self, key, default=None):
        if key not in self.options:
            return default
        return self.raw(key)[0]

    def get_int(self, key, default=None, min=None):
        if key not in self.options:
            if default is None:
                raise self._err(key, f"missing required option '{key}'")
            return default
        text = self.raw(key)[0]
        try:
            value = int(text, 10)
        except ValueError:
            raise self._err(key, f"{key}={text!r} is not an integer") from None
        if min is not None and value < min:
            raise self._err(key, f"{key}={value} must be >= {min}")
        return value

    def get_float(self, key, default=None, positive=False):
        if key not in self.options:
            if default is None:
                raise self._err(key, f"missing required option '{key}'")
            return default
        text = self.raw(key)[0]
        try:
            value = float(text)
        except ValueError:
            raise self._err(key, f"{key}={text!r} is not a number") from None
        if not math.isfinite(value):
            raise self._err(key, f"{key}={text!r} is not a finite number")
        if positive and value <= 0:
            raise self._err(key, f"{key}={text} must be > 0")
        return value

    def get_list(self, key, kind=int, default=None):
        if key not in self.options:
            if default is None:
                raise self._err(key, f"missing required option '{key}'")
            return default
        text = self.raw(key)[0]
        out = []
        for item in text.split(","):
            try:
                out.append(kind(item))
            except ValueError:
                raise self._err(key, f"{key}={text!r}: {item!r} is not a{'n integer' if kind is int else ' number'}") from None
            if kind is float and not math.isfinite(out[-1]):
                raise self._err(key, f"{key}={text!r}: {item!r} is not finite")
        return out

    def unused(self):
        return [k for k in self.options if k not in self.used]


def _decode(data, path):
    if b"\x00" in data:
        raise DarkbenchError("not a text cfg file (contains NUL bytes)", path)
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise DarkbenchError(f"not a text cfg file (invalid UTF-8 at byte {e.start})", path) from None


def read_text(path):
    path = os.fspath(path)
    if os.path.isdir(path):
        raise DarkbenchError("is a directory, not a cfg file", path)
    try:
        size = os.path.getsize(path)
        if size > MAX_CFG_BYTES:
            raise DarkbenchError(f"file is {size} bytes; not a cfg file (limit {MAX_CFG_BYTES})", path)
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        raise DarkbenchError("no such file", path) from None
    except PermissionError:
        raise DarkbenchError("permission denied", path) from None
    except OSError as e:
        raise DarkbenchError(f"cannot read: {e.strerror}", path) from None
    return _decode(data, path)


def parse(text, path="<cfg>"):
    """Parse cfg text into sections (the [net] section included)."""
    sections = []
    for n, line in enumerate(text.splitlines(), 1):
        line = "".join(line.split())  # darknet strips all whitespace, anywhere
        if not line or line[0] in "#;":
            continue
        if line[0] == "[":
            if not line.endswith("]") or len(line) < 3:
                raise DarkbenchError(f"malformed section header {line!r}", path, n)
            sections.append(Section(line[1:-1], n, path))
            continue
        if not sections:
            raise DarkbenchError(f"option {line!r} before any [section]", path, n)
        key, eq, value = line.partition("=")
        if not eq or not key:
            raise DarkbenchError(f"expected key=value, got {line!r}", path, n)
        if not value:
            raise DarkbenchError(f"option '{key}' has no value", path, n)
        sections[-1].options.setdefault(key, (value, n))
    if not sections:
        raise DarkbenchError("empty cfg: no sections", path)
    return sections


def read(path):
    return parse(read_text(path), os.fspath(path))
