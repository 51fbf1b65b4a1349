"""Test-session setup: an isolated cache folder (ontology index, LLM cache) unless one is given."""

import os
import tempfile

os.environ.setdefault("HYPOFINDER_CACHE_DIR", tempfile.mkdtemp(prefix="hypofinder-test-cache-"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
os.environ.pop("OPENAI_API_KEY", None)  # tests must never reach a real provider
