"""The 一网通办 platform simulator: the HTTP app (app.py) over its state and rules (world.py), with
the hall queue (queue.py), e-licences (licences.py), enterprises (enterprises.py) and residents
and their benefits (people.py) in modules of their own, sharing common.py."""

from integrations.platform.events import sign_event
from integrations.platform.simulator.app import create_platform_simulator
from integrations.platform.simulator.world import World

__all__ = ["World", "create_platform_simulator", "sign_event"]
