"""Target (d), and the extras' servers: the bot itself, `python -m bot serve`, configured by
YWTB_* variables. (The echo target (c) is retired: the full turn is what people get.)"""

from __future__ import annotations

import sys


def main() -> int:
    from bot.cli import main as cli

    return cli(["serve", *sys.argv[1:]])


if __name__ == "__main__":
    sys.exit(main())
