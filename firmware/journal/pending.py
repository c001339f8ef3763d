"""The tags waiting for the next button press (mixed into `firmware.journal.Journal`).

An inspector types a sample's tags on the phone, then places the item and presses the trigger
button on the device. The tags wait in one row of ``pending_tags`` until a button-triggered
result is stored with them: `ResultsMixin.append_result` deletes the row (by its id) in the
same transaction that stores that result, so a crash, a refusal or a hardware fault never
loses them and a stored result never leaves them behind for the next item.

They live in the journal rather than in memory because a restart (watchdog, power cut, update)
must not silently drop what the inspector typed and turn the next press into an untagged
result; the expiry time (`firmware.pending_tags`) is stored with them, in wall-clock seconds, so
it holds across the restart too. The table was added after schema 1 shipped; ``CREATE TABLE IF
NOT EXISTS`` adds it to an older journal, and an older firmware ignores it.
"""
from __future__ import annotations

import json

from ..errors import JournalError
from .db import JournalDb

COLUMNS = ("id", "sample", "source", "set_at", "expires_at")


class PendingTagsMixin(JournalDb):
    def pending_tags_row(self) -> dict | None:
        """``{id, sample, source, set_at, expires_at}`` as stored (expired or not), or None."""
        rows = self._read("SELECT id, sample, source, set_at, expires_at FROM pending_tags WHERE slot = 1")
        if not rows:
            return None
        row = dict(zip(COLUMNS, rows[0]))
        try:
            row["sample"] = json.loads(row["sample"])
        except ValueError as exc:
            raise JournalError(f"{self.path}: the tags waiting for the button are not valid JSON ({exc}); "
                               f"clear them") from None
        if not isinstance(row["sample"], dict):
            raise JournalError(f"{self.path}: the tags waiting for the button are not an object of tags; "
                               f"clear them")
        return row

    def set_pending_tags(self, tag_id: str, sample: dict, source: str, set_at: float, expires_at: float) -> None:
        """Store the tags for the next button press, replacing any that were waiting."""
        with self._write() as con:
            con.execute("INSERT INTO pending_tags (slot, id, sample, source, set_at, expires_at) "
                        "VALUES (1, ?, ?, ?, ?, ?) ON CONFLICT(slot) DO UPDATE SET id = excluded.id, "
                        "sample = excluded.sample, source = excluded.source, set_at = excluded.set_at, "
                        "expires_at = excluded.expires_at",
                        (tag_id, json.dumps(sample, sort_keys=True, allow_nan=False), source, float(set_at),
                         float(expires_at)))

    def clear_pending_tags(self, tag_id: str | None = None) -> bool:
        """Drop the waiting tags (only those with ``tag_id`` if given); whether any were dropped."""
        with self._write() as con:
            if tag_id is None:
                cur = con.execute("DELETE FROM pending_tags")
            else:
                cur = con.execute("DELETE FROM pending_tags WHERE id = ?", (tag_id,))
            return cur.rowcount > 0
