"""Accuracy and cost of mailfollow's decisions on generated, labelled mailboxes.

    python bench/inference_bench.py [--conversations 2000] [--messages 100000] [--no-filter]

1. Accuracy: a labelled mailbox of N conversations (plus noise) is parsed,
   classified, grouped and judged at the generator's ``as_of``; prints the
   precision and recall of "due" (target: precision 100 %, recall >= 98 %),
   the agreement on every state, and per incoming class.
2. Cost: a mailbox of at least M messages (conversations and noise, one to
   four, are scaled up until the generator gives that many); times parsing
   (for scale) and the inference itself, as the pipeline runs it: relevance
   filter (which asks whether each of the user's messages starts a
   conversation, classifying it), classify what the filter kept,
   conversations, policy (target: under 5 s per 100,000 messages), and the
   peak RSS. Every figure is also given per 100,000 messages. The baseline
   measured in the same run is one pass that only reads each message's
   fields (the least any inference must do); the ratio says what the
   decision logic costs on top. ``--no-filter`` classifies every message, as
   the pipeline did before the relevance filter.
"""

from __future__ import annotations

import argparse
import math
import os
import resource
import sys
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mailfollow.core.classify import classify_message
from mailfollow.core.conversations import START_STAGES, Correction, infer_conversations, own_kind
from mailfollow.core.headers import parse_message
from mailfollow.core.policy import plan_followups
from mailfollow.core.relevance import relevant_messages
from mailfollow.demo.generator import MailboxPlan, plan_mailbox
from mailfollow.model import (
    ClassifiedMessage,
    Conversation,
    DetectionRules,
    FolderRole,
    Identity,
    Message,
    PolicySettings,
    State,
    Verdict,
)
from mailfollow.pipeline import collector_paused

AS_OF = datetime(2026, 6, 15, 9, 0, tzinfo=UTC)
IDENTITY = Identity(
    name="Alex Doe", addresses=frozenset({"alex.doe@example.org", "alex@doe.example"})
)
ROLES = {
    "INBOX": FolderRole.INBOX,
    "Sent": FolderRole.SENT,
    "Drafts": FolderRole.DRAFTS,
    "Archive": FolderRole.ARCHIVE,
}


@dataclass
class Inference:
    """Conversations and verdicts, with the seconds each stage took."""

    conversations: list[Conversation]
    verdicts: list[Verdict]
    classified: int
    seconds: dict[str, float] = field(default_factory=dict)


def parse_all(
    seed: int, conversations: int, noise: int | None
) -> tuple[list[Message], MailboxPlan]:
    plan = plan_mailbox(seed=seed, conversations=conversations, as_of=AS_OF, noise=noise)
    return parse_plan(plan), plan


def parse_plan(plan: MailboxPlan) -> list[Message]:
    return [
        parse_message(
            item.raw,
            internal_date=item.internal_date,
            folder=item.folder,
            folder_role=ROLES.get(item.folder, FolderRole.OTHER),
            flags=frozenset(item.flags),
        )
        for item in plan.messages()
    ]


def infer(messages: Sequence[Message], *, use_filter: bool = True) -> Inference:
    """What pipeline.assess does: filter (asking which of the user's messages start a
    conversation), classify what is kept, infer conversations, plan."""
    rules = DetectionRules()
    settings = PolicySettings()
    tracked: dict[str, Correction] = {}  # the user's track corrections; none here
    seconds = {"filter": 0.0, "classify": 0.0}
    own = frozenset(m.message_id for m in messages if IDENTITY.is_me(m.sender))
    done: dict[int, ClassifiedMessage] = {}

    def classified(message: Message) -> ClassifiedMessage:
        found = done.get(id(message))
        if found is None:
            started = time.perf_counter()
            classification = classify_message(
                message, identity=IDENTITY, rules=rules, own_message_ids=own
            )
            found = done[id(message)] = ClassifiedMessage(
                message, classification, IDENTITY.is_me(message.sender)
            )
            seconds["classify"] += time.perf_counter() - started
        return found

    def starts(message: Message) -> bool:
        return own_kind(classified(message), tracked) in START_STAGES

    started = time.perf_counter()
    candidates = messages
    if use_filter:
        candidates = relevant_messages(messages, identity=IDENTITY, starts=starts)
    items = [classified(m) for m in candidates]
    seconds["filter"] = time.perf_counter() - started - seconds["classify"]
    started = time.perf_counter()
    conversations = infer_conversations(items, identity=IDENTITY, policy=settings)
    seconds["conversations"] = time.perf_counter() - started
    started = time.perf_counter()
    verdicts = plan_followups(conversations, settings=settings, now=AS_OF)
    seconds["policy"] = time.perf_counter() - started
    return Inference(conversations, verdicts, len(done), seconds)


def accuracy(conversations_count: int, *, use_filter: bool) -> None:
    messages, plan = parse_all(seed=2026, conversations=conversations_count, noise=None)
    result = infer(messages, use_filter=use_filter)
    pairs = list(zip(result.conversations, result.verdicts, strict=True))
    by_message = {mid: (c, v) for c, v in pairs for mid in c.message_ids}
    true_pos = false_pos = false_neg = agree = 0
    confusion: Counter[tuple[str, str]] = Counter()
    for label in plan.labels:
        found = by_message.get(label.key)
        got = found[1].state.value if found else "untracked"
        confusion[(label.expected_state, got)] += 1
        agree += got == label.expected_state
        expected_due = label.expected_state == State.DUE.value
        true_pos += expected_due and got == "due"
        false_pos += (not expected_due) and got == "due"
        false_neg += expected_due and got != "due"
    tracked_labels = {label.key for label in plan.labels}
    due_without_label = sum(
        1 for c, v in pairs if v.state is State.DUE and not tracked_labels & set(c.message_ids)
    )
    false_pos += due_without_label
    precision = true_pos / (true_pos + false_pos) if true_pos + false_pos else 1.0
    recall = true_pos / (true_pos + false_neg) if true_pos + false_neg else 1.0
    labels = len(plan.labels)
    print(f"## accuracy on {labels} labelled conversations, {len(messages)} messages")
    print(
        f"due: precision {precision:.2%} ({true_pos}/{true_pos + false_pos}), "
        f"recall {recall:.2%} ({true_pos}/{true_pos + false_neg}); "
        f"untracked noise judged due: {due_without_label}"
    )
    print(f"state agreement: {agree}/{labels} = {agree / labels:.2%}")
    for (expected, got), count in sorted(confusion.items()):
        if expected != got:
            print(f"  expected {expected:<10} got {got:<10} x{count}")
    _incoming_classes(result.conversations, plan)


def _incoming_classes(conversations: Sequence[Conversation], plan: MailboxPlan) -> None:
    """Recall per incoming class, against the generator's answer key per message."""
    classified = {
        item.message.message_id: item.classification.incoming.value
        for c in conversations
        for item in c.messages
        if item.classification.incoming is not None
    }
    per_class: dict[str, Counter[str]] = {}
    for label in plan.labels:
        for mid, expected in label.incoming.items():
            answer = classified.get(mid, "not in a conversation")
            per_class.setdefault(expected, Counter())[answer] += 1
    print("incoming classes (expected -> recall, confusions):")
    for expected, answers in sorted(per_class.items()):
        total = sum(answers.values())
        right = answers[expected]
        others = "".join(f"; {k} x{n}" for k, n in answers.items() if k != expected)
        print(f"  {expected:<16} {right}/{total} = {right / total:.2%}{others}")


NOISE_PER_CONVERSATION = 4  # the mix this bench always used (M/8 conversations, M/2 noise)
MAX_SIZING_ROUNDS = 8


def _labelled_count(plan: MailboxPlan) -> int:
    """The messages the plan's labels list: what it generates, less a few extra copies."""
    return sum(len(label.message_ids) for label in plan.labels) + len(plan.noise)


def mailbox_of_at_least(target_messages: int, *, seed: int = 99) -> list[Message]:
    """A parsed mailbox of at least ``target_messages`` messages.

    The generator's count follows from its conversation and noise counts only
    roughly, so both are scaled (in a fixed ratio) by what the plan's labels
    count, before generating; should the generated messages still fall short,
    the mailbox is planned again, larger.
    """
    # A first guess: a conversation is about two messages, a noise item about one.
    conversations = max(1, math.ceil(target_messages / (2 + NOISE_PER_CONVERSATION)))
    messages: list[Message] = []
    for _ in range(MAX_SIZING_ROUNDS):
        plan = plan_mailbox(
            seed=seed,
            conversations=conversations,
            as_of=AS_OF,
            noise=conversations * NOISE_PER_CONVERSATION,
        )
        counted = _labelled_count(plan)
        if counted >= target_messages:
            messages = parse_plan(plan)
            if len(messages) >= target_messages:
                return messages
            counted = len(messages)
        growth = target_messages / max(counted, 1) * 1.005  # a little over, not another round
        conversations = max(conversations + 1, math.ceil(conversations * growth))
    raise RuntimeError(f"could not generate {target_messages:,} messages (got {len(messages):,})")


def _per_100k(seconds: float, messages: int) -> float:
    return seconds / max(messages, 1) * 100_000


def cost(target_messages: int, *, use_filter: bool) -> None:
    started = time.perf_counter()
    messages = mailbox_of_at_least(target_messages)
    parse_s = time.perf_counter() - started
    start = time.perf_counter()
    touched = 0
    for m in messages:  # baseline: read what any inference has to read
        touched += len(m.subject) + len(m.snippet) + len(m.references) + (m.sender is not None)
    baseline = time.perf_counter() - start
    load = ", ".join(f"{value:.2f}" for value in os.getloadavg())
    start, cpu_start = time.perf_counter(), time.process_time()
    with collector_paused():  # as pipeline.assess does
        result = infer(messages, use_filter=use_filter)
    spent, cpu = time.perf_counter() - start, time.process_time() - cpu_start
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    found, count = len(result.conversations), len(messages)
    asked = f"asked for {target_messages:,}"
    print(f"## cost on {count:,} messages ({found:,} conversations found; {asked})")
    print(
        f"parsing and generating (for scale): {parse_s:.1f} s ({count / parse_s:,.0f} messages/s)"
    )
    stages = ", ".join(f"{name} {s:.2f} s" for name, s in result.seconds.items())
    print(
        f"inference (filter + classify + conversations + policy): {spent:.2f} s "
        f"for {count:,} messages ({count / spent:,.0f} messages/s); CPU {cpu:.2f} s"
    )
    print(
        f"    per 100,000 messages: {_per_100k(spent, count):.2f} s (target < 5 s); "
        f"CPU {_per_100k(cpu, count):.2f} s"
    )
    kept = "every message" if not use_filter else f"{result.classified:,} messages"
    print(f"    stages: {stages}; classified {kept} of {count:,}")
    per_stage = ", ".join(
        f"{name} {_per_100k(s, count):.2f} s" for name, s in result.seconds.items()
    )
    print(f"    stages per 100,000 messages: {per_stage}")
    print(
        f"baseline field scan: {baseline:.3f} s; "
        f"inference / baseline = {spent / max(baseline, 1e-9):.0f}x"
    )
    print(f"peak RSS of the whole run (parsed messages held in memory): {rss_mb:.0f} MB")
    print(f"load average when the inference started (1, 5, 15 min): {load}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--conversations", type=int, default=2000)
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument(
        "--no-filter", action="store_true", help="classify every message (no relevance filter)"
    )
    args = parser.parse_args()
    accuracy(args.conversations, use_filter=not args.no_filter)
    if args.messages:
        cost(args.messages, use_filter=not args.no_filter)


if __name__ == "__main__":
    main()
