"""Darknet .cfg reader: darknet's grammar, plus line numbers and strict values.

Grammar (as darknet's read_cfg): lines end at '\n' only (fgetl); every space and tab is
removed from a line (strip); `[x]` opens a section; empty, `#` and `;` lines are skipped;
other lines are `key=value` split at the first `=`. The first occurrence of a key wins.
Numbers are what C atoi/atof read, so only ASCII digits. We also accept CRLF and a UTF-8
BOM, and refuse what darknet silently misreads (no `=`, values that are not wholly numbers).
"""
import math
import os
import re
from dataclasses import dataclass, field

from .errors import DarkbenchError

MAX_CFG_BYTES = 16 * 1024 * 1024
STRIPPED = " \t"  # darknet's strip() removes ' ', '\t' and '\n', nothing else (no \f, \v, NBSP...)
INT32 = (-2 ** 31, 2 ** 31 - 1)  # darknet's options are C ints
# what atoi/atof consume wholly: C isspace first, then ASCII digits only ([0-9], never \d: Unicode)
C_SPACE = " \t\n\x0b\x0c\r"  # C isspace(): atoi/atof skip these first
_C_SPACE = f"[{C_SPACE}]*"
_INT = re.compile(_C_SPACE + "[+-]?[0-9]+")
_FLOAT = re.compile(_C_SPACE + "[+-]?(?:[0-9]+\\.?[0-9]*|\\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
# strtod's other forms: hexadecimal (0x1.8p3), inf/infinity and nan(chars), any case
_HEX_FLOAT = re.compile(_C_SPACE + "[+-]?0[xX](?:[0-9a-fA-F]+\\.?[0-9a-fA-F]*|\\.[0-9a-fA-F]+)"
                                   "(?:[pP][+-]?[0-9]+)?")
_SPECIAL_FLOAT = re.compile(_C_SPACE + "([+-]?)(?:(inf(?:inity)?)|nan(?:\\([0-9A-Za-z_]*\\))?)", re.IGNORECASE)


def lines(text):
    """The cfg's lines as darknet's fgetl splits them: at '\n' only ('\f', '\v', U+2028... stay)."""
    out = text.split("\n")
    if out and out[-1] == "":  # no line after the final newline
        out.pop()
    return out


def strip(line):
    """darknet's strip(), plus CRLF: a '\r' ending the line goes (darknet keeps it; we accept CRLF files)."""
    for ch in STRIPPED:
        line = line.replace(ch, "")
    return line[:-1] if line.endswith("\r") else line


def _c_int(digits):
    """int of an atoi-shaped string; absurdly long ones capped (out of int range anyway, and
    Python's int() refuses more than 4300 digits)."""
    digits = digits.lstrip(C_SPACE)
    sign = -1 if digits.startswith("-") else 1
    digits = digits.lstrip("+-").lstrip("0") or "0"
    return sign * (10 ** 19 if len(digits) > 19 else int(digits, 10))


def atoi(text):
    """What C atoi reads from text (for messages): leading digits only, 0 when there are none."""
    m = _INT.match(text)
    return _c_int(m.group()) if m else 0


def parse_int(text):
    """The int darknet reads, or None when atoi would not read all of text as an ASCII integer."""
    return _c_int(text) if _INT.fullmatch(text) else None


def parse_float(text):
    """The float darknet reads, or None when atof would not read all of text as a number."""
    bare = text.lstrip(C_SPACE)
    if _FLOAT.fullmatch(text):
        return float(bare)
    if _HEX_FLOAT.fullmatch(text):
        return float.fromhex(bare)
    m = _SPECIAL_FLOAT.fullmatch(text)
    if m:  # refused as not finite by the caller, as every value darknet would take for inf or nan
        return float(f"{m.group(1)}inf") if m.group(2) else math.nan
    return None


@dataclass
class Section:
    name: str  # as written, without brackets
    line: int
    path: str
    options: dict = field(default_factory=dict)  # key -> (value, line)
    used: set = field(default_factory=set)
    lenient: bool = False  # take what atoi reads from '40#32' (40), noting it, instead of refusing
    notes: list = field(default_factory=list)  # (line, warning) about values read that way

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
        value = self._int(key, text, text)
        if min is not None and value < min:
            raise self._err(key, f"{key}={value} must be >= {min}")
        return value

    def get_float(self, key, default=None, positive=False):
        if key not in self.options:
            if default is None:
                raise self._err(key, f"missing required option '{key}'")
            return default
        text = self.raw(key)[0]
        value = self._float(key, text, text)
        if positive and value <= 0:
            raise self._err(key, f"{key}={text} must be > 0")
        return value

    def get_list(self, key, kind=int, default=None):
        if key not in self.options:
            if default is None:
                raise self._err(key, f"missing required option '{key}'")
            return default
        text = self.raw(key)[0]
        parse = self._int if kind is int else self._float
        return [parse(key, text, item) for item in text.split(",")]

    # -- one value, as darknet's atoi/atof would read it wholly, else an error naming it --
    def _int(self, key, text, item):
        value = parse_int(item)
        what = f"{key}={text!r}" + (f": {item!r}" if item != text else "")
        if value is None and self.lenient and _INT.match(item):
            value = atoi(item)
            self.notes.append((self.options[key][1], f"{what} read as {value}, as the fork's atoi reads it"))
        if value is None:
            raise self._err(key, f"{what} is not an integer (darknet's atoi reads ASCII digits only "
                                 f"and would take {atoi(item)})")
        if not INT32[0] <= value <= INT32[1]:
            raise self._err(key, f"{what} is out of range of darknet's 32-bit int")
        return value

    def _float(self, key, text, item):
        value = parse_float(item)
        what = f"{key}={text!r}" + (f": {item!r}" if item != text else "")
        if value is None:
            raise self._err(key, f"{what} is not a number (darknet's atof reads ASCII digits only and "
                                 "would not read all of it)")
        if not math.isfinite(value):
            raise self._err(key, f"{what} is not a finite number")
        return value

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
        with open(path, "rb") as f:
            # one byte past the limit, whatever the size says: /dev/zero, pipes and /dev/stdin have none
            data = f.read(MAX_CFG_BYTES + 1)
    except FileNotFoundError:
        raise DarkbenchError("no such file", path) from None
    except PermissionError:
        raise DarkbenchError("permission denied", path) from None
    except OSError as e:
        raise DarkbenchError(f"cannot read: {e.strerror}", path) from None
    if len(data) > MAX_CFG_BYTES:
        raise DarkbenchError(f"more than {MAX_CFG_BYTES} bytes; not a cfg file", path)
    return _decode(data, path)


def parse(text, path="<cfg>"):
    """Parse cfg text into sections (the [net] section included)."""
    sections = []
    for n, line in enumerate(lines(text), 1):
        line = strip(line)
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
