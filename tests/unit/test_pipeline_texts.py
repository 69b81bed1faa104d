"""Texts a large sync left on the server are fetched before classifying, and
change nothing the pipeline decides; without them it decides nothing."""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mailfollow import errors, pipeline
from mailfollow.adapters.store import Store
from mailfollow.config import Config, parse_config
from mailfollow.core.classify import bounce_possible
from mailfollow.demo.generator import DEFAULT_ALIASES, DEFAULT_USER
from mailfollow.model import ClassifiedMessage, FolderRole, IncomingKind, Message, State
from tests.factories import as_deferred
from tests.unit.test_relevance import AS_OF, generated_mailbox

OWN_TEXT_ROLES = (FolderRole.SENT, FolderRole.DRAFTS)


def make_config(tmp_path: Path) -> Config:
    return parse_config(
        {
            "account": {
                "name": DEFAULT_USER.name,
                "address": DEFAULT_USER.email,
                "aliases": list(DEFAULT_ALIASES),
                "imap": {"host": "imap.example.org"},
                "smtp": {"host": "smtp.example.org"},
            },
            "state": {"dir": str(tmp_path / "state")},
        }
    )


@pytest.fixture
def config(tmp_path: Path) -> Config:
    return make_config(tmp_path)


@pytest.fixture
def store() -> Iterator[Store]:
    with Store.memory() as memory:
        yield memory


def fill(store: Store, messages: Sequence[Message]) -> None:
    """Store each message in its folder under a UID of its own."""
    for uid, message in enumerate(messages, start=1):
        store.store_messages(message.folder, [(uid, message, None)])


class ServerTexts:
    """A TextSource that puts the original back, as fetch_texts does from the server."""

    def __init__(self, store: Store, originals: Sequence[Message]) -> None:
        self.store = store
        self.originals = {m.message_id: m for m in originals}
        self.asked: list[str] = []

    def fetch_texts(self, message_ids: Sequence[str]) -> set[str]:
        self.asked.extend(message_ids)
        done = set()
        for message_id in message_ids:
            locations = self.store.locations_of(message_id)
            if locations and message_id in self.originals:
                where = locations[0]
                self.store.store_messages(
                    where.folder, [(where.uid, self.originals[message_id], None)]
                )
                done.add(message_id)
        return done


def decisions(items: Sequence[ClassifiedMessage]) -> list[tuple[Message, object, bool]]:
    return [(c.message, c.classification, c.from_me) for c in items]


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(seed=st.sampled_from([1, 2, 3, 42]), chooser=st.randoms(use_true_random=False))
def test_texts_fetched_on_demand_give_what_texts_fetched_at_once_give(
    tmp_path: Path, seed: int, chooser: random.Random
) -> None:
    config = make_config(tmp_path)
    messages = list(generated_mailbox(seed, 15, 30))
    identity = config.identity()
    deferred = [
        as_deferred(m) if m.folder_role not in OWN_TEXT_ROLES and chooser.random() < 0.7 else m
        for m in messages
    ]
    deferred_ids = {m.message_id for m in deferred if m.text_deferred}
    with Store.memory() as full, Store.memory() as partial:
        fill(full, messages)
        fill(partial, deferred)
        expected = pipeline.assess(full, config, now=AS_OF)
        server = ServerTexts(partial, messages)

        found = pipeline.assess(partial, config, now=AS_OF, texts=server)

        assert found == expected
        assert server.asked
        assert set(server.asked) <= deferred_ids
        # What could matter is fetched, the user's own mail first; no stranger's
        # mail that nobody wrote to and that could not be a bounce.
        relevant = {c.message.message_id for c in pipeline.classify_all(full, config)}
        own = {m.message_id for m in messages if identity.is_me(m.sender)}
        by_id = {m.message_id: m for m in messages}
        for message_id in set(server.asked) - relevant - own:
            assert bounce_possible(by_id[message_id])


def test_without_a_way_to_fetch_them_missing_texts_that_matter_stop_the_decisions(
    store: Store, config: Config
) -> None:
    messages = list(generated_mailbox(1, 15, 30))
    fill(store, [m if m.folder_role in OWN_TEXT_ROLES else as_deferred(m) for m in messages])

    with pytest.raises(errors.TextsPending, match="could join a conversation"):
        pipeline.classify_all(store, config)
    with pytest.raises(errors.TextsPending):
        pipeline.classify_all(store, config, texts=ServerTexts(store, []))  # fetches nothing


def test_missing_texts_that_cannot_matter_stop_nothing(store: Store, config: Config) -> None:
    messages = list(generated_mailbox(2, 15, 30))
    with Store.memory() as full:
        fill(full, messages)
        expected = pipeline.classify_all(full, config)
    kept = {c.message.message_id for c in expected}
    own = {m.message_id for m in messages if config.identity().is_me(m.sender)}
    idle = [m for m in messages if m.message_id not in kept | own and not bounce_possible(m)]
    idle_ids = {m.message_id for m in idle}
    fill(store, [as_deferred(m) if m.message_id in idle_ids else m for m in messages])

    assert len(idle) > 10
    assert decisions(pipeline.classify_all(store, config)) == decisions(expected)


def test_an_answer_that_left_the_mailbox_before_its_text_was_read_still_counts(
    store: Store, config: Config
) -> None:
    messages = list(generated_mailbox(3, 15, 30))
    with Store.memory() as full:
        fill(full, messages)
        assessed = pipeline.assess(full, config, now=AS_OF)
    replied = next(a for a in assessed if a.verdict.state is State.REPLIED)
    answer = next(
        m
        for m in reversed(replied.conversation.messages)
        if not m.from_me and m.classification.incoming is IncomingKind.HUMAN_REPLY
    ).message
    # The same mailbox, with every answer of that conversation stored without its text
    # and then deleted by the user before the text was fetched.
    answers = {m.message.message_id for m in replied.conversation.messages if not m.from_me}
    fill(store, [as_deferred(m) if m.message_id in answers else m for m in messages])
    for message_id in answers:
        for where in store.locations_of(message_id):
            store.remove_locations(where.folder, [where.uid])

    again = {a.conversation.id: a for a in pipeline.assess(store, config, now=AS_OF)}

    assert again[replied.conversation.id].verdict.state is State.REPLIED
    kept = {c.message.message_id: c for c in pipeline.classify_all(store, config)}
    assert kept[answer.message_id].classification.rule == "text.unavailable"
    assert kept[answer.message_id].classification.incoming is IncomingKind.HUMAN_REPLY
