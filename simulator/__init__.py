"""Local Scenario API simulator (Python 3.11 standard library only).

A stateful stand-in for https://api.cloud.scenario.com/v1 on 127.0.0.1, used by
the scenario-lua test suite, `make demo` and `make simulator`. Started with
`python3 simulator/scenario_sim.py` or `python3 -m simulator`; see README.md
in this folder for the command line, the endpoints, the fault specs and the
control endpoints, and for the modules of this package.
"""
