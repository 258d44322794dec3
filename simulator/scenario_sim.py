#!/usr/bin/env python3
"""Local Scenario API simulator (Python 3.11 standard library only).

A stateful stand-in for https://api.cloud.scenario.com/v1 on 127.0.0.1, used by
the scenario-lua test suite, `make demo` and `make simulator`.

    python3 simulator/scenario_sim.py [--port 0] [--host 127.0.0.1]
        [--job-duration 2.0] [--api-key test-key] [--api-secret test-secret]
        [--token test-token] [--faults SPEC] [--seed-assets N] [--quiet]

As soon as it listens it prints exactly one line on stdout, `LISTENING <port>
<pid>`, and nothing else ever goes to stdout (logs go to stderr).  See
simulator/README.md for the endpoints, fault specs and control endpoints.

This file only starts the `simulator` package of the folder above (the same
as `python3 -m simulator` from there).
"""

import os
import sys

_HERE = os.path.dirname(os.path.abspath(__file__))

# The package is imported from the folder above; this folder itself is taken
# off sys.path so that its modules are never imported as top-level ones.
sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != _HERE]
sys.path.insert(0, os.path.dirname(_HERE))

from simulator.server import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
