"""Group messages into threads.

Three kinds of evidence, strongest first:

1. References / In-Reply-To, with Jamie Zawinski's algorithm
   (https://www.jwz.org/doc/threading.html): every referenced Message-ID gets
   a container, empty when the message itself is missing, and the References
   chain links them parent to child. A message's own last reference is its
   parent; when In-Reply-To names a different message, In-Reply-To wins
   (some clients send stale or truncated References). A link that would
   create a loop is refused, so loops in headers neither hang nor merge
   anything beyond the messages that really point at each other. A message
   always ends up in the same thread as the parent it names, even when a
   loop made JWZ cut the link.
2. Gmail's X-GM-THRID (``Message.gm_thread_id``): messages sharing it belong
   together.
3. The subject, only for a message that has neither References nor
   In-Reply-To and whose subject says it is a reply or forward ("Re:",
   "AW:"...): it joins a thread with the same :func:`base_subject` if one of
   that thread's earlier messages was exchanged between the same people (at
   least two participants in common). Two applications with the same subject
   sent to different companies therefore stay apart, and so do notices with
   a fixed subject ("Undelivered Mail Returned to Sender").

The input is sorted (and duplicates by Message-ID removed) before anything is
linked, so the result does not depend on the order messages were fetched in.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field

from mailfollow.model import Message


@dataclass(frozen=True)
class Thread:
    """Messages that belong together, by Message-ID.

    ``root_id`` is the top of the reference tree: usually the first message,
    but it can be the Message-ID of a message that was never seen (a deleted
    original several replies point at).
    """

    root_id: str
    message_ids: tuple[str, ...]  # every message present, in date order
    subject: str = ""  # base subject of the first message


# Reply/forward markers in several languages, optionally counted ("RE[2]:",
# "Re(3):", "Re^2:"), and "[tag]" prefixes added by lists and gateways.
_MARKERS = (
    "re",
    "fwd",
    "fw",
    "aw",
    "wg",
    "sv",
    "vs",
    "antw",
    "antwort",
    "réf",
    "ref",
    "tr",
    "rv",
    "res",
    "enc",
    "odp",
    "rif",
    "ynt",
    "回复",
    "答复",
    "转发",
    "回覆",
)
_TAG = r"\[[^\]]*\]"
_MARKER = (
    r"(?:" + "|".join(map(re.escape, _MARKERS)) + r")\s*(?:\[\d+\]|\(\d+\)|\^\d+)?\s*[:\uff1a]"
)
_PREFIX = re.compile(rf"^\s*(?:{_TAG}|{_MARKER})\s*", re.IGNORECASE)
_REPLY_PREFIX = re.compile(rf"^\s*(?:{_TAG}\s*)*{_MARKER}", re.IGNORECASE)
_SPACES = re.compile(r"\s+")


def base_subject(subject: str) -> str:
    """The subject without reply/forward markers and leading ``[tags]``.

    >>> base_subject("RE[2]: [External] AW: Fwd: Backend  Engineer")
    'Backend Engineer'
    """
    text = _SPACES.sub(" ", subject).strip()
    while (prefix := _PREFIX.match(text)) is not None and prefix.end() > 0:
        text = text[prefix.end() :]
    return text


def says_reply(subject: str) -> bool:
    """Whether the subject starts (after any ``[tags]``) with a reply or forward marker."""
    return _REPLY_PREFIX.match(subject) is not None


@functools.lru_cache(maxsize=65536)
def _cached_base_subject(subject: str) -> str:
    return base_subject(subject)


def _subject_key(subject: str) -> str:
    return _cached_base_subject(subject).casefold()


@dataclass(eq=False, slots=True)
class _Container:
    message_id: str
    message: Message | None = None
    parent: _Container | None = None
    children: list[_Container] = field(default_factory=list)


def _is_same_or_ancestor(candidate: _Container, node: _Container) -> bool:
    """Whether ``candidate`` is ``node`` or above it (parent links never loop)."""
    current: _Container | None = node
    while current is not None:
        if current is candidate:
            return True
        current = current.parent
    return False


def _unlink(child: _Container) -> None:
    if child.parent is not None:
        child.parent.children.remove(child)
        child.parent = None


def _link(parent: _Container, child: _Container) -> None:
    """Make ``child`` a child of ``parent`` unless that would close a loop."""
    if _is_same_or_ancestor(child, parent):
        return
    _unlink(child)
    parent.children.append(child)
    child.parent = parent


def _clean_id(raw: str) -> str:
    return raw.strip().strip("<>").strip()


def reference_chain(message: Message) -> list[str]:
    """Message-IDs from the oldest ancestor to the parent, per References and In-Reply-To."""
    if not message.references and not message.in_reply_to:
        return []  # most messages start a thread
    own = message.message_id
    chain = [ref for ref in map(_clean_id, message.references) if ref and ref != own]
    parents = [ref for ref in map(_clean_id, message.in_reply_to) if ref and ref != own]
    if parents and (not chain or chain[-1] != parents[0]):
        chain = [ref for ref in chain if ref != parents[0]] + [parents[0]]
    return chain


_Key = tuple[float, str]  # (POSIX timestamp, Message-ID): date order, fast to compare


def _sort_key(message: Message) -> _Key:
    return (message.date.timestamp(), message.message_id)


def _copy_rank(message: Message) -> tuple[object, ...]:
    return (
        len(message.references),
        len(message.in_reply_to),
        message.gm_thread_id or "",
        message.folder,
        message.date.timestamp(),
        message.subject,
    )


def unique_messages(messages: Iterable[Message]) -> list[Message]:
    """One message per Message-ID (the same copy whatever the input order), in date order."""
    return _unique_with_keys(messages)[0]


def _unique_with_keys(messages: Iterable[Message]) -> tuple[list[Message], dict[str, _Key]]:
    """unique_messages, and each one's sort key by Message-ID (worked out once: every
    later sort reads them)."""
    kept: dict[str, Message] = {}
    for message in messages:
        seen = kept.get(message.message_id)
        if seen is None or _copy_rank(message) > _copy_rank(seen):
            kept[message.message_id] = message
    keys = {message_id: _sort_key(message) for message_id, message in kept.items()}
    return sorted(kept.values(), key=lambda message: keys[message.message_id]), keys


def _build_containers(
    messages: Sequence[Message], chains: Mapping[str, list[str]]
) -> dict[str, _Container]:
    table: dict[str, _Container] = {}

    def container(message_id: str) -> _Container:
        found = table.get(message_id)
        if found is None:
            found = table[message_id] = _Container(message_id)
        return found

    for message in messages:
        own = container(message.message_id)
        own.message = message
        previous: _Container | None = None
        for ref in chains[message.message_id]:
            current = container(ref)
            # Earlier links stand: another message's References do not move a
            # container that already has a parent.
            if previous is not None and current.parent is None:
                _link(previous, current)
            previous = current
        # The message's own headers name its parent authoritatively.
        _unlink(own)
        if previous is not None:
            _link(previous, own)
    return table


def _walk(root: _Container) -> Iterator[_Container]:
    stack = [root]
    while stack:
        node = stack.pop()
        yield node
        stack.extend(node.children)


def _visible_root(root: _Container) -> str:
    """JWZ pruning at the top: an empty container with one child gives way to it."""
    node = root
    while node.message is None and len(node.children) == 1:
        node = node.children[0]
    return node.message_id


@dataclass
class _Tree:
    root_id: str
    messages: list[Message]
    headerless_root: Message | None  # the root, if a reply by its subject without references
    container_ids: list[str]  # every Message-ID in the tree, seen or missing


def _reference_trees(
    messages: Sequence[Message], chains: Mapping[str, list[str]], keys: Mapping[str, _Key]
) -> list[_Tree]:
    table = _build_containers(messages, chains)
    trees = []
    for root in (c for c in table.values() if c.parent is None):
        nodes = list(_walk(root)) if root.children else [root]
        found = [n.message for n in nodes if n.message is not None]
        if not found:
            continue
        if len(found) > 1:
            found.sort(key=lambda message: keys[message.message_id])
        top = root.message
        lone = top is not None and not chains[top.message_id] and says_reply(top.subject)
        headerless = top if lone else None
        ids = [n.message_id for n in nodes]
        trees.append(_Tree(_visible_root(root), found, headerless, ids))
    trees.sort(key=lambda tree: keys[tree.messages[0].message_id])
    return trees


class _Partition:
    """Union-find over tree indices."""

    def __init__(self, size: int) -> None:
        self._parent = list(range(size))

    def find(self, item: int) -> int:
        while self._parent[item] != item:
            self._parent[item] = self._parent[self._parent[item]]
            item = self._parent[item]
        return item

    def union(self, first: int, second: int) -> None:
        a, b = self.find(first), self.find(second)
        if a != b:
            self._parent[max(a, b)] = min(a, b)


def _participants(message: Message) -> set[str]:
    people = {address.email.lower() for address in (*message.to, *message.cc)}
    if message.sender is not None:
        people.add(message.sender.email.lower())
    return people


def _between_same_people(first: Message, second: Message) -> bool:
    """Whether two messages share at least two participants (the user and the
    other side), so one alone in common, usually the user, is not enough."""
    return len(_participants(first) & _participants(second)) >= 2


_Entry = tuple[_Key, int, Message]  # (sort key, tree index, message)


def _by_subject(trees: Sequence[_Tree], keys: Mapping[str, _Key]) -> dict[str, list[_Entry]]:
    """Messages by base subject, only for the subjects a header-less reply carries."""
    wanted = {_subject_key(t.headerless_root.subject) for t in trees if t.headerless_root}
    wanted.discard("")
    index: dict[str, list[_Entry]] = {}
    if not wanted:
        return index
    for tree_index, tree in enumerate(trees):
        for message in tree.messages:
            if (key := _subject_key(message.subject)) in wanted:
                index.setdefault(key, []).append((keys[message.message_id], tree_index, message))
    return index


def _subject_match(
    tree_index: int,
    trees: Sequence[_Tree],
    by_subject: Mapping[str, list[_Entry]],
    keys: Mapping[str, _Key],
) -> int | None:
    """The tree a header-less root message joins by subject, if any: the one
    holding the latest earlier message with the same base subject exchanged
    between the same people (the message it most likely answers)."""
    lone = trees[tree_index].headerless_root
    if lone is None or not (key := _subject_key(lone.subject)):
        return None
    lone_key = keys[lone.message_id]
    earlier = [
        (sort_key, index)
        for sort_key, index, other in by_subject.get(key, ())
        if index != tree_index and sort_key < lone_key and _between_same_people(lone, other)
    ]
    return max(earlier)[1] if earlier else None


def _join_named_parents(
    trees: Sequence[_Tree], partition: _Partition, chains: Mapping[str, list[str]]
) -> None:
    """Keep every message with the parent it names. A link JWZ refused because
    of a loop can later be cut when the parent's own headers move it; the two
    still belong together."""
    tree_of = {cid: index for index, tree in enumerate(trees) for cid in tree.container_ids}
    for index, tree in enumerate(trees):
        for message in tree.messages:
            chain = chains[message.message_id]
            if chain:
                parent_tree = tree_of.get(chain[-1], index)  # usually this very tree
                if parent_tree != index:
                    partition.union(index, parent_tree)


def _join_by_gmail_thread(trees: Sequence[_Tree], partition: _Partition) -> None:
    first_tree: dict[str, int] = {}
    for index, tree in enumerate(trees):
        for message in tree.messages:
            if message.gm_thread_id:
                partition.union(first_tree.setdefault(message.gm_thread_id, index), index)


def thread_messages(messages: Sequence[Message]) -> list[Thread]:
    """Partition messages into threads, each listing its Message-IDs in date order.

    Threads come back ordered by their first message. The same input in any
    order gives the same threads.
    """
    unique, keys = _unique_with_keys(messages)
    chains = {m.message_id: reference_chain(m) for m in unique}
    trees = _reference_trees(unique, chains, keys)
    partition = _Partition(len(trees))
    _join_named_parents(trees, partition, chains)
    _join_by_gmail_thread(trees, partition)
    by_subject = _by_subject(trees, keys)
    for index in range(len(trees)):
        match = _subject_match(index, trees, by_subject, keys)
        if match is not None:
            partition.union(index, match)

    # Trees are in order of their first message, so the lowest index of a
    # group holds the group's first message and names its root.
    groups: dict[int, list[int]] = {}
    for index in range(len(trees)):
        groups.setdefault(partition.find(index), []).append(index)
    threads = []
    for members in sorted(groups.values(), key=min):
        found = trees[members[0]].messages
        if len(members) > 1:
            found = sorted(
                (m for i in members for m in trees[i].messages),
                key=lambda message: keys[message.message_id],
            )
        threads.append(
            Thread(
                root_id=trees[min(members)].root_id,
                message_ids=tuple(m.message_id for m in found),
                subject=_cached_base_subject(found[0].subject),
            )
        )
    return threads


def index_threads(threads: Iterable[Thread]) -> Mapping[str, Thread]:
    """Message-ID -> the thread holding it."""
    return {message_id: thread for thread in threads for message_id in thread.message_ids}
