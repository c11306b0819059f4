"""Target (b): WeRoBot's echo robot, served by gunicorn with one sync worker:
`gunicorn -w 1 -k sync bench.targets.werobot_echo:app`. WeRoBot checks the signature, parses
the XML and renders the reply. Installed by the `bench` extra; the bot never imports it."""

from __future__ import annotations

import os

import werobot

robot = werobot.WeRoBot(token=os.environ.get("BENCH_WECHAT_TOKEN", "bench-token"), enable_session=False)


@robot.text
def echo(message):
    return message.content


app = robot.wsgi
