"""The .weights header as darkbench writes it: numpy- and torch-free, for the analytic path."""
DEFAULT_HEADER = dict(major=0, minor=2, revision=0, seen=0)
HEADER_BYTES = 20  # major, minor, revision (int32) + 8-byte seen, as DEFAULT_HEADER is written


def header_size(major, minor, dialect="pjreddie"):
    """Bytes of a header of this version: darknet reads seen as 8 bytes from 0.2 on, 4 before; 2018 darknet
    also reads 4 when major or minor is over 1000 (its transposed files), the AlexeyAB fork reads 8 there."""
    wide = major * 10 + minor >= 2
    if dialect != "alexeyab":
        wide = wide and major < 1000 and minor < 1000
    return 12 + (8 if wide else 4)
