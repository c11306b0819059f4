"""Run the platform simulator on its own: python -m integrations.platform.simulator --port 8090"""

import argparse
import logging

from aiohttp import web

from integrations.platform.simulator.app import DEV_CLIENT_TOKEN, create_platform_simulator

parser = argparse.ArgumentParser(prog="python -m integrations.platform.simulator")
parser.add_argument("--host", default="127.0.0.1")
parser.add_argument("--port", type=int, default=8090)
parser.add_argument("--events-url", default="", help="where to POST signed case events, e.g. http://127.0.0.1:8080/platform/events")
parser.add_argument("--events-secret", default="", help="the shared HMAC secret for events")
parser.add_argument("--client-token", default=DEV_CLIENT_TOKEN, help="the bot's platform token, required for people data")
parser.add_argument("--public-url", default="", help="the origin people reach the simulator at (scheme://host:port), for licence pages")
args = parser.parse_args()
logging.basicConfig(level=logging.INFO)
web.run_app(create_platform_simulator(events_url=args.events_url, events_secret=args.events_secret, client_token=args.client_token,
                                      public_url=args.public_url), host=args.host, port=args.port)
