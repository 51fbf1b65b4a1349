"""SQLite cache of structured LLM answers: the same prompt to the same model with the same
settings is answered from disk, with no model call. Stores prompts' hash and answers only."""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
from pathlib import Path


class AnswerCache:
    def __init__(self, path: Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as db:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute(
                "CREATE TABLE IF NOT EXISTS answers (key TEXT PRIMARY KEY, model TEXT, task TEXT, answer TEXT,"
                " prompt_tokens INTEGER, completion_tokens INTEGER, created REAL)"
            )

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(self.path, timeout=30)

    @staticmethod
    def key(**parts) -> str:
        return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()

    def get(self, key: str) -> tuple[dict, int, int] | None:
        with self._connect() as db:
            row = db.execute(
                "SELECT answer, prompt_tokens, completion_tokens FROM answers WHERE key=?", (key,)
            ).fetchone()
        return (json.loads(row[0]), row[1], row[2]) if row else None

    def put(self, key: str, *, model: str, task: str, answer: dict, prompt_tokens: int, completion_tokens: int):
        with self._connect() as db:
            db.execute(
                "INSERT OR REPLACE INTO answers VALUES (?,?,?,?,?,?,?)",
                (key, model, task, json.dumps(answer), prompt_tokens, completion_tokens, time.time()),
            )

    def __len__(self) -> int:
        with self._connect() as db:
            return db.execute("SELECT COUNT(*) FROM answers").fetchone()[0]
