"""`python -m fuzz [--seconds N] [NAME...]`: run each atheris harness for N seconds, starting
from the seed corpus in fuzz/corpus/NAME (new inputs that reach new code are added to
var/fuzz/corpus/NAME; crashes are written to var/fuzz/crashes/). Prints the executions of each
run and exits non-zero on the first crash. Without atheris (it has wheels for CPython on Linux
x86-64 only), says so and exits 3: the Makefile then runs the long hypothesis profile alone."""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
from pathlib import Path

from fuzz.targets import TARGETS

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m fuzz")
    parser.add_argument("--seconds", type=int, default=60, help="per harness (default 60)")
    parser.add_argument("names", nargs="*", default=sorted(TARGETS), help="harnesses (default: all)")
    args = parser.parse_args()
    try:
        import atheris  # noqa: F401
    except ImportError:
        print("fuzz: atheris is not installed (pip install -e '.[fuzz]'); only hypothesis will run", file=sys.stderr)
        return 3
    total = 0
    for name in args.names:
        seeds = ROOT / "fuzz" / "corpus" / name
        corpus = ROOT / "var" / "fuzz" / "corpus" / name
        crashes = ROOT / "var" / "fuzz" / "crashes"
        corpus.mkdir(parents=True, exist_ok=True)
        crashes.mkdir(parents=True, exist_ok=True)
        if seeds.is_dir():
            for seed in seeds.iterdir():
                shutil.copy(seed, corpus / seed.name)
        cmd = [sys.executable, "-m", "fuzz.harness", name, str(corpus), f"-max_total_time={args.seconds}",
               f"-artifact_prefix={crashes}/{name}-", "-max_len=4096", "-print_final_stats=1"]
        run = subprocess.run(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        runs = re.findall(r"stat::number_of_executed_units:\s*(\d+)", run.stderr)
        done = int(runs[-1]) if runs else 0
        total += done
        print(f"fuzz {name}: {done} inputs in {args.seconds} s, exit {run.returncode}", flush=True)
        if run.returncode != 0:
            print(run.stderr[-4000:], file=sys.stderr)
            return 1
    print(f"fuzz: {total} inputs in all, no crash")
    return 0


if __name__ == "__main__":
    sys.exit(main())
