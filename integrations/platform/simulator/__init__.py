"""The 一网通办 platform simulator (see app.py) and its state (world.py)."""

from integrations.platform.events import sign_event
from integrations.platform.simulator.app import create_platform_simulator
from integrations.platform.simulator.world import World

__all__ = ["World", "create_platform_simulator", "sign_event"]
