"""Targets (c) and (d): the bot itself, `python -m bot serve`, configured by YWTB_* variables.

`--echo` registers the benchmark's echo dialog (dialogs/echo.py) in this process only; the
harness gives the generator's users sessions in it, so target (c) runs the bot's whole path
(signature, nonce, dedup, lock, session load and save) around a dialog that does nothing."""

from __future__ import annotations

import sys


def main() -> int:
    args = sys.argv[1:]
    if "--echo" in args:
        args.remove("--echo")
        import dialogs.echo  # noqa: F401  (registers the echo dialog)
    from bot.cli import main as cli

    return cli(["serve", *args])


if __name__ == "__main__":
    sys.exit(main())
