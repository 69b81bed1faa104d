"""Schema versions and forward migrations of the store."""

from __future__ import annotations

import logging
import sqlite3
import threading
from pathlib import Path

import pytest

from mailfollow.adapters import store as store_module
from mailfollow.adapters.store import MIGRATIONS, SCHEMA_VERSION, Store
from mailfollow.errors import SchemaVersionError, StoreError
from tests.factories import make_message

TABLES = {
    "schema_version",
    "folders",
    "messages",
    "locations",
    "corrections",
    "conversations",
    "drafts",
    "draft_events",
    "meta",
}


def schema_of(path: Path) -> list[tuple[str, str]]:
    with sqlite3.connect(path) as conn:
        rows = conn.execute(
            "SELECT name, sql FROM sqlite_schema WHERE sql IS NOT NULL ORDER BY name"
        ).fetchall()
    conn.close()
    return rows


def version_of(path: Path) -> int:
    conn = sqlite3.connect(path)
    try:
        return int(conn.execute("SELECT version FROM schema_version").fetchone()[0])
    finally:
        conn.close()


def set_version(path: Path, version: int) -> None:
    conn = sqlite3.connect(path)
    with conn:
        conn.execute("UPDATE schema_version SET version = ?", (version,))
    conn.close()


def use_migrations(monkeypatch: pytest.MonkeyPatch, migrations: tuple[str, ...]) -> None:
    monkeypatch.setattr(store_module, "MIGRATIONS", migrations)
    monkeypatch.setattr(store_module, "SCHEMA_VERSION", len(migrations))


def test_an_empty_database_is_migrated_to_the_current_version(tmp_path: Path) -> None:
    db = tmp_path / "state.db"
    with Store.open(db) as store:
        assert store.schema_version() == SCHEMA_VERSION == len(MIGRATIONS)
    assert {name for name, _ in schema_of(db)} >= TABLES
    assert version_of(db) == SCHEMA_VERSION


def test_reopening_a_migrated_database_changes_nothing(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    db = tmp_path / "state.db"
    caplog.set_level(logging.INFO, logger="mailfollow.adapters.store")
    with Store.open(db) as store:
        store.set_meta("last_poll", "ok")
    first_schema = schema_of(db)
    assert "migrated to schema version 1" in caplog.text
    caplog.clear()

    with Store.open(db) as store:
        assert store.get_meta("last_poll") == "ok"
    assert schema_of(db) == first_schema
    assert "migrated" not in caplog.text


def test_the_in_memory_store_has_the_same_schema(tmp_path: Path) -> None:
    with Store.memory() as store:
        assert store.schema_version() == SCHEMA_VERSION
        store.set_meta("k", "v")
        assert store.get_meta("k") == "v"


def test_a_database_from_a_newer_mailfollow_is_refused_and_left_alone(tmp_path: Path) -> None:
    db = tmp_path / "state.db"
    Store.open(db).close()
    set_version(db, SCHEMA_VERSION + 1)

    with pytest.raises(SchemaVersionError, match="upgrade mailfollow"):
        Store.open(db)
    assert version_of(db) == SCHEMA_VERSION + 1


def test_a_newer_version_error_is_a_store_error() -> None:
    assert issubclass(SchemaVersionError, StoreError)


def test_a_failing_migration_leaves_the_previous_version_intact(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "state.db"
    Store.open(db).close()
    broken = "CREATE TABLE half_done (x INTEGER);\nINSERT INTO no_such_table VALUES (1);\n"
    use_migrations(monkeypatch, (*MIGRATIONS, broken))

    with pytest.raises(StoreError, match="no_such_table"):
        Store.open(db)
    assert version_of(db) == len(MIGRATIONS)
    assert "half_done" not in {name for name, _ in schema_of(db)}


def test_a_later_migration_is_applied_on_open_with_its_version_bump(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "state.db"
    Store.open(db).close()
    extra = """
    CREATE TABLE audit (id INTEGER PRIMARY KEY, note TEXT NOT NULL);
    CREATE TRIGGER audit_meta AFTER INSERT ON meta BEGIN
        INSERT INTO audit (note) VALUES (new.key);
    END;
    """
    use_migrations(monkeypatch, (*MIGRATIONS, extra))

    with Store.open(db) as store:
        assert store.schema_version() == len(MIGRATIONS) + 1
        store.set_meta("last_poll", "2026-03-16")
    conn = sqlite3.connect(db)
    assert conn.execute("SELECT note FROM audit").fetchall() == [("last_poll",)]
    conn.close()


def test_migrating_step_by_step_gives_the_same_schema_as_a_fresh_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fresh = tmp_path / "fresh.db"
    Store.open(fresh).close()
    for done in range(len(MIGRATIONS)):
        db = tmp_path / f"from-{done}.db"
        with monkeypatch.context() as patch:
            use_migrations(patch, MIGRATIONS[:done])
            Store.open(db).close()
        assert version_of(db) == done
        Store.open(db).close()
        assert schema_of(db) == schema_of(fresh)


def open_at_once(db: Path, openers: int) -> list[BaseException]:
    barrier = threading.Barrier(openers)
    failures: list[BaseException] = []

    def open_and_close() -> None:
        barrier.wait(timeout=10)
        try:
            Store.open(db).close()
        except BaseException as exc:  # noqa: BLE001 (reported by the caller)
            failures.append(exc)

    threads = [threading.Thread(target=open_and_close) for _ in range(openers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return failures


def test_several_processes_opening_a_new_database_at_once_all_succeed(tmp_path: Path) -> None:
    # Switching a new file to WAL collides now and then; a few rounds make it likely.
    for round_number in range(30):
        db = tmp_path / f"state-{round_number}.db"
        assert open_at_once(db, 4) == []
        assert version_of(db) == SCHEMA_VERSION


def test_a_migration_with_an_unfinished_statement_is_rejected(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "state.db"
    use_migrations(monkeypatch, (*MIGRATIONS, "CREATE TABLE forgotten_semicolon (x)"))
    with pytest.raises(ValueError, match="incomplete SQL statement"):
        Store.open(db)
    assert version_of(db) == len(MIGRATIONS)


def test_messages_stored_before_deferred_texts_existed_keep_their_text(tmp_path: Path) -> None:
    db = tmp_path / "state.db"
    with Store.open(db) as store:
        store.store_messages("INBOX", [(1, make_message(message_id="old@x", snippet="Hi"), None)])
    conn = sqlite3.connect(db)  # back to the schema of version 1
    with conn:
        conn.execute("ALTER TABLE messages DROP COLUMN text_deferred")
        conn.execute("UPDATE schema_version SET version = 1")
    conn.close()

    with Store.open(db) as store:
        loaded = store.get_message("old@x")
    assert version_of(db) == SCHEMA_VERSION
    assert loaded is not None
    assert (loaded.snippet, loaded.text_deferred) == ("Hi", False)
