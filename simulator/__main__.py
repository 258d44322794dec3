"""python3 -m simulator [--port 0] ...: the same as simulator/scenario_sim.py."""

import sys

from .server import main

sys.exit(main(prog="python3 -m simulator"))
