"""The one error type darkbench lets escape: a single readable line."""


class DarkbenchError(Exception):
    """A user-facing error; str() is one line naming where and what."""

    def __init__(self, message, path=None, line=None, layer=None):
        self.message = message
        self.path = str(path) if path is not None else None
        self.line = line
        self.layer = layer
        super().__init__(self.format())

    def format(self):
        where = []
        if self.path:
            where.append(self.path if self.line is None else f"{self.path}:{self.line}")
        elif self.line is not None:
            where.append(f"line {self.line}")
        if self.layer is not None:
            where.append(f"layer {self.layer}")
        prefix = " ".join(where)
        return f"{prefix}: {self.message}" if prefix else self.message
