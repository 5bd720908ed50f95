"""`darkbench` command line: one subcommand module each in darkbench/commands/."""
import argparse
import importlib
import os
import sys

from . import __version__, models
from .errors import DarkbenchError

# name -> module in darkbench.commands; each has help, add_arguments(parser), run(args) -> int
COMMANDS = {
    "ops": "ops",
    "summary": "summary",
    "compare": "compare",
    "verify": "verify",
    "weights": "weights",
    "export": "export",
    "crosscheck": "crosscheck",
    "bench": "bench",
    "report": "report",
    "classify": "classify",
    "detect": "detect",
    "nightmare": "nightmare",
    "map": "map",
}


def main(argv=None):
    parser = argparse.ArgumentParser(prog="darkbench", description=(
        "Count, build and time Darknet-style networks. 'darkbench COMMAND --help' for each command."))
    parser.add_argument("--version", action="version", version=f"darkbench {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    argv = sys.argv[1:] if argv is None else list(argv)
    # numpy's work here is elementwise (a vector norm at most), never a BLAS product: OpenBLAS's threads (one a
    # core, started when numpy loads) would only spin, taking a core from `darkbench map`'s image reading while
    # torch loads. Read when numpy loads, so set before any command's import; a user's own setting wins.
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    wanted = next((a for a in argv if not a.startswith("-")), None)
    # import only the command asked for: `darkbench ops` must stay light and fast
    names = [wanted] if wanted in COMMANDS else list(COMMANDS)
    for name in names:
        mod = importlib.import_module(f".commands.{COMMANDS[name]}", __package__)
        p = sub.add_parser(name, help=mod.HELP.replace("%", "%%"), description=mod.HELP)
        try:
            mod.add_arguments(p)  # may read plugins (bench: each backend's options), whose errors are one line
        except DarkbenchError as e:
            print(f"darkbench {name}: error: {e}", file=sys.stderr)
            return 2
        p.set_defaults(_run=mod.run)
    args = parser.parse_args(argv)
    seen = set()  # warnings printed in this command run: a model may be analysed several times (sizes, devices)

    def show(warnings):  # unknown options etc., once each on stderr, whatever the command
        for w in warnings:
            if w not in seen:
                seen.add(w)
                print(f"warning: {w}", file=sys.stderr)

    try:
        with models.warnings_to(show), models.dialect_in(getattr(args, "dialect", None) or "auto"):
            return args._run(args) or 0
    except DarkbenchError as e:
        print(f"darkbench {args.command}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"darkbench {args.command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except Exception as e:  # a bug of ours: still one line, never a traceback
        msg = str(e).strip().splitlines()
        print(f"darkbench {args.command}: internal error: {type(e).__name__}: {msg[0] if msg else ''} "
              "(please report this)", file=sys.stderr)
        return 3


if __name__ == "__main__":
    sys.exit(main())
