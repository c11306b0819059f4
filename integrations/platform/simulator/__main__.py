"""Run the platform simulator on its own: python -m integrations.platform.simulator --port 8090"""

import argparse
import logging

from aiohttp import web

from integrations.platform.simulator.app import create_platform_simulator

parser = argparse.ArgumentParser(prog="python -m integrations.platform.simulator")
parser.add_argument("--host", default="127.0.0.1")
parser.add_argument("--port", type=int, default=8090)
parser.add_argument("--events-url", default="", help="where to POST signed case events, e.g. http://127.0.0.1:8080/platform/events")
parser.add_argument("--events-secret", default="", help="the shared HMAC secret for events")
args = parser.parse_args()
logging.basicConfig(level=logging.INFO)
web.run_app(create_platform_simulator(events_url=args.events_url, events_secret=args.events_secret), host=args.host, port=args.port)
