"""Child processes that never outlive the process that started them.

A child is stopped in an orderly way when its parent ends normally (the embedded Redis in
bot.stores.embedded; the tests' helpers). When the parent is killed outright (SIGKILL, the OOM
killer) nothing of it runs any more, so the child must be told by the kernel: on Linux,
`die_with_parent` asks for SIGTERM when the parent goes (prctl PR_SET_PDEATHSIG). Elsewhere it
does nothing, and only an orderly end stops the child.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
from collections.abc import Callable

_PR_SET_PDEATHSIG = 1


def die_with_parent() -> Callable[[], None] | None:
    """A `preexec_fn` for subprocess.Popen: the child gets SIGTERM when this process dies.

    The kernel sends it when the thread that started the child ends, so start long-lived
    children from the main thread. None where the system cannot do it."""
    if not sys.platform.startswith("linux"):
        return None
    parent = os.getpid()
    libc = ctypes.CDLL(None, use_errno=True)

    def arrange() -> None:  # runs in the child, between fork and exec
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
        if os.getppid() != parent:  # the parent died before the request took effect
            os._exit(1)

    return arrange
