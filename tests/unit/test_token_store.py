"""The local store of agent pod tokens: private, shared, and not kept for ever."""

import json
import stat
import time
from pathlib import Path

from kdebug_tui.backend.tokens import TokenStore


def test_a_token_is_there_for_another_process_of_the_user(tmp_path: Path) -> None:
    path = tmp_path / "state" / "agents.json"
    TokenStore(path).put("uid-1", "secret-1", expires=time.time() + 60)
    assert TokenStore(path).get("uid-1") == "secret-1"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700


def test_the_token_of_a_pod_past_its_lifetime_is_dropped(tmp_path: Path) -> None:
    path = tmp_path / "agents.json"
    store = TokenStore(path)
    store.put("gone", "old-secret", expires=time.time() - 1)
    assert store.get("gone") is None
    store.put("live", "new-secret", expires=time.time() + 60)
    kept = json.loads(path.read_text())
    assert set(kept) == {"live"}
    assert "old-secret" not in path.read_text()


def test_a_forgotten_token_leaves_the_file(tmp_path: Path) -> None:
    path = tmp_path / "agents.json"
    store = TokenStore(path)
    store.put("uid-1", "secret-1", expires=time.time() + 60)
    store.put("uid-2", "secret-2", expires=time.time() + 60)
    store.forget({"uid-1"})
    assert store.get("uid-1") is None
    assert store.get("uid-2") == "secret-2"
    assert "secret-1" not in path.read_text()


def test_a_damaged_or_old_store_costs_only_its_tokens(tmp_path: Path) -> None:
    path = tmp_path / "agents.json"
    path.write_text('{"uid-1": "a token without an expiry"}')
    store = TokenStore(path)
    assert store.get("uid-1") is None
    path.write_text("{not json")
    assert store.get("uid-1") is None
    store.put("uid-2", "secret-2", expires=time.time() + 60)
    assert store.get("uid-2") == "secret-2"
