"""The inspection bureau: ingest every unit's results exactly once, keep them, report on them.

Modules, one job each:

- `database`: one connection type over ``sqlite:///PATH`` and ``postgresql://…`` (psycopg 3).
- `migrations`: the versioned schema, identical on both databases.
- `units`: the registry of units and their public keys (``nir-host units``).
- `gaps`: seq ranges the bureau has not seen (asked for in every ack) or that units report purged.
- `payloads`: topic → typed parser; a bad payload becomes a `payloads.Rejected` with its reason.
- `store`: writes one batch of parsed messages in one transaction and says what to acknowledge.
- `ingester`: the MQTT side (paho 2.x, MQTT v5, persistent or shared subscription) and the
  worker that batches, commits, then acknowledges.
- `config`: the validated bureau config (TOML).
- `reports`, `lab`: ``nir-host report`` and ``nir-host lab import``.
"""
