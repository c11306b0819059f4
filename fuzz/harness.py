"""One atheris harness: `python -m fuzz.harness NAME [libFuzzer flags...]`."""

from __future__ import annotations

import sys

import atheris

with atheris.instrument_imports(include=["bot", "dialogs", "integrations", "wechatpy", "xmltodict"]):
    from fuzz.targets import TARGETS


def main() -> None:
    name = sys.argv.pop(1)
    target = TARGETS[name]

    def one_input(data: bytes) -> None:
        target(data)

    atheris.Setup(sys.argv, one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
