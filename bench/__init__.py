"""The benchmark: the bot beside its peers (a bare aiohttp handler, WeRoBot under gunicorn) in
one run on one machine. `python -m bench --help` or `make bench`; see
bench/README.md."""
