"""The .weights header as darkbench writes it: numpy- and torch-free, for the analytic path."""
DEFAULT_HEADER = dict(major=0, minor=2, revision=0, seen=0)
HEADER_BYTES = 20  # major, minor, revision (int32) + 8-byte seen, as DEFAULT_HEADER is written


def header_size(major, minor):
    """Bytes of a header of this version: darknet writes seen as 8 bytes from 0.2 on, 4 before (and for
    the > 1000 versions)."""
    return 12 + (8 if major * 10 + minor >= 2 and major < 1000 and minor < 1000 else 4)
