"""The soak: a simulated fleet, a real broker and the bureau on PostgreSQL, under chaos, for a bounded time.

``python -m soak --duration 300 --seed 1`` (``make soak``) runs, on loopback only:

- a real Mosquitto (persistence on, as ``config/mosquitto/`` ships it) on a free port;
- PostgreSQL (a throwaway cluster, or ``PLASTINIR_TEST_PG``) with the bureau's schema;
- two ``nir-host bureau`` processes on one shared subscription (``--shared soak``);
- N ``nir-device run --sim`` processes, each with its own state directory and unit key,
  registered with ``nir-host units add``; each presses its simulated trigger button every
  ``--press-every`` seconds (``[sim] press_every_s``) and takes harness requests through
  ``<state dir>/sim-control/`` (``[sim] control``, `firmware.sim.control`);

and meanwhile, one action at a time (`soak.chaos`): SIGKILLs the broker and stops it cleanly,
SIGKILLs device and ingester processes and restarts them, injects SPI faults into running
devices, and publishes malformed and tampered payloads (`soak.payloads`). Then the fleet stops
measuring, everything is drained, and `soak.checks` compares every device journal with the
bureau's database. The counts are printed; the exit status is 1 if any check failed.

Modules: `rig` (the processes), `chaos` (the actions), `payloads` (bad input), `monitor` (an MQTT
observer), `checks` (the verdict), `run` (the whole soak), `__main__` (the command line).
"""
