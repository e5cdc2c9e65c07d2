"""The sequencer on its own: deliveries offered in any order come out per socket in seq order, once each;
gaps are filled from the stored stream; a seq never stored is skipped after the (injected) wait."""

from __future__ import annotations

import logging
import random
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import gevent
import pytest
import redis
from bson import ObjectId

from chatbox.models import event as stream
from chatbox.models.ids import utcnow
from chatbox.realtime.sequencer import Delivery, Sequencer
from tests.support.sockets import wait_until

GAP_SECONDS = 0.3


class Recorder:
    def __init__(self) -> None:
        self.sent: dict[str, list[tuple[int, str, Any]]] = {}

    def __call__(self, sid: str, event: str, args: tuple[Any, dict[str, int]]) -> None:
        data, meta = args
        self.sent.setdefault(sid, []).append((meta["seq"], event, data))

    def seqs(self, sid: str) -> list[int]:
        return [seq for seq, _e, _d in self.sent.get(sid, [])]


@pytest.fixture
def user(app: Any) -> str:
    return str(ObjectId())


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def sequencer(app: Any, recorder: Recorder) -> Iterator[Sequencer]:
    made = Sequencer(recorder, gap_seconds=GAP_SECONDS, check_seconds=0)
    yield made
    made.stop()


def _produce(user: str, count: int, created_at: Any = None, skip: set[int] | None = None) -> list[Delivery]:
    """Number `count` events for `user` and store them (but the seqs in `skip`: writes that failed)."""
    now = created_at or utcnow()
    first = stream.allocate(ObjectId(user), count, now)
    rows = [stream.EventRow(user, first + i, "new-message", {"n": first + i}, None, now) for i in range(count)]
    stream.store([r for r in rows if r.seq not in (skip or set())])
    return [Delivery(r.user_id, r.seq, r.event, r.data) for r in rows]


def test_shuffled_arrivals_come_out_in_order_for_every_socket(
    sequencer: Sequencer, recorder: Recorder, user: str
) -> None:
    deliveries = _produce(user, 200)
    for sid in ("s1", "s2"):
        sequencer.open(sid, user)
        sequencer.start(sid, 1, 0)
    shuffled = deliveries[:]
    random.Random(7).shuffle(shuffled)
    for delivery in shuffled + deliveries[:50]:  # and some twice
        sequencer.arrive(delivery)
    wait_until(lambda: len(recorder.seqs("s2")) == 200, "every event")
    gevent.sleep(0.05)
    assert recorder.seqs("s1") == recorder.seqs("s2") == list(range(1, 201))


def test_an_event_that_arrives_early_is_held_until_the_one_before_it(
    sequencer: Sequencer, recorder: Recorder, user: str
) -> None:
    sequencer.open("s", user)
    sequencer.start("s", 1, 0)
    # Numbered but not stored yet (its producer is still writing): nothing to fill from.
    first = stream.allocate(ObjectId(user), 1, utcnow())
    early = _produce(user, 1)[0]
    sequencer.arrive(early)
    gevent.sleep(GAP_SECONDS / 5)
    assert recorder.seqs("s") == []
    stream.store([stream.EventRow(user, first, "new-message", {"n": first}, None, utcnow())])
    sequencer.arrive(Delivery(user, first, "new-message", {"n": first}))
    wait_until(lambda: len(recorder.seqs("s")) == 2, "both")
    assert recorder.seqs("s") == [1, 2]


def test_a_lost_announcement_is_filled_from_the_stored_stream(
    sequencer: Sequencer, recorder: Recorder, user: str
) -> None:
    sequencer.open("s", user)
    sequencer.start("s", 1, 0)
    deliveries = _produce(user, 5)
    for delivery in deliveries[:2] + deliveries[3:]:  # #3 was stored, its announcement lost
        sequencer.arrive(delivery)
    wait_until(lambda: len(recorder.seqs("s")) == 5, "all five")
    assert recorder.seqs("s") == [1, 2, 3, 4, 5] and sequencer.skipped == 0
    assert recorder.sent["s"][2][2] == {"n": 3}


def test_a_seq_whose_write_failed_is_skipped_after_the_wait(
    sequencer: Sequencer, recorder: Recorder, user: str
) -> None:
    sequencer.open("s", user)
    sequencer.start("s", 1, 0)
    deliveries = _produce(user, 4, skip={2})
    for delivery in [d for d in deliveries if d.seq != 2]:
        sequencer.arrive(delivery)
    wait_until(lambda: len(recorder.seqs("s")) == 3, "the stored ones")
    assert recorder.seqs("s") == [1, 3, 4] and sequencer.skipped == 1


def test_an_old_hole_is_skipped_without_waiting(app: Any, recorder: Recorder, user: str) -> None:
    # A wait far longer than this test may take: only the stored evidence can explain the skip.
    patient = Sequencer(recorder, gap_seconds=600, check_seconds=0)
    try:
        _produce(user, 3, created_at=utcnow() - timedelta(hours=1), skip={2})
        patient.open("s", user)
        patient.start("s", 1, 3)  # resuming from 0 with the position at 3
        wait_until(lambda: len(recorder.seqs("s")) == 2, "the replay")
        assert recorder.seqs("s") == [1, 3] and patient.skipped == 1
    finally:
        patient.stop()


def test_nothing_goes_out_before_start_and_start_drops_what_is_behind(
    sequencer: Sequencer, recorder: Recorder, user: str
) -> None:
    deliveries = _produce(user, 4)
    sequencer.open("s", user)
    for delivery in reversed(deliveries):
        sequencer.arrive(delivery)
    gevent.sleep(0.05)
    assert recorder.seqs("s") == []
    sequencer.start("s", 3, 2)
    wait_until(lambda: len(recorder.seqs("s")) == 2, "3 and 4")
    assert recorder.seqs("s") == [3, 4]


def test_the_origin_socket_moves_past_its_own_event_once_its_ack_is_out(
    app: Any, recorder: Recorder, user: str
) -> None:
    patient = Sequencer(recorder, gap_seconds=600, check_seconds=0)  # only the ack can release it
    try:
        now = utcnow()
        first = stream.allocate(ObjectId(user), 3, now)
        rows = [
            stream.EventRow(user, first + i, "new-message", {"n": i}, "origin" if i == 1 else None, now)
            for i in range(3)
        ]
        stream.store(rows)
        for sid in ("origin", "other"):
            patient.open(sid, user)
            patient.start(sid, 1, 0)
        # Announced out of order, so #2 reaches "origin" from the stored stream as well: never sent to it.
        for row in (rows[2], rows[0], rows[1]):
            patient.arrive(Delivery(row.user_id, row.seq, row.event, row.data, row.origin))
        wait_until(lambda: len(recorder.seqs("other")) == 3, "the other socket's events")
        gevent.sleep(0.05)
        # #3 waits behind #2, whose ack has not gone out yet.
        assert recorder.seqs("origin") == [1] and recorder.seqs("other") == [1, 2, 3]
        patient.acked("origin", [2])
        wait_until(lambda: len(recorder.seqs("origin")) == 2, "the event after the ack")
        assert recorder.seqs("origin") == [1, 3]
    finally:
        patient.stop()


def test_an_ack_sent_before_its_event_arrives_lets_it_pass_at_once(
    sequencer: Sequencer, recorder: Recorder, user: str
) -> None:
    now = utcnow()
    first = stream.allocate(ObjectId(user), 2, now)
    rows = [stream.EventRow(user, first + i, "new-message", {"n": i}, "me" if i == 0 else None, now) for i in range(2)]
    stream.store(rows)
    sequencer.open("me", user)
    sequencer.start("me", 1, 0)
    sequencer.acked("me", [1])
    for row in rows:
        sequencer.arrive(Delivery(row.user_id, row.seq, row.event, row.data, row.origin))
    assert recorder.seqs("me") == [2]  # at once: nothing waited


def test_the_periodic_check_delivers_what_no_later_event_revealed(
    sequencer: Sequencer, recorder: Recorder, user: str
) -> None:
    sequencer.open("s", user)
    sequencer.start("s", 1, 0)
    _produce(user, 2)  # stored, never announced (its process died)
    gevent.sleep(0.05)
    assert recorder.seqs("s") == []
    sequencer.check_once()
    wait_until(lambda: len(recorder.seqs("s")) == 2, "both")
    assert recorder.seqs("s") == [1, 2]


def test_a_closed_socket_gets_nothing_more(sequencer: Sequencer, recorder: Recorder, user: str) -> None:
    deliveries = _produce(user, 3)
    sequencer.open("s", user)
    sequencer.start("s", 1, 0)
    sequencer.arrive(deliveries[0])
    sequencer.arrive(deliveries[2])
    sequencer.close("s")
    sequencer.arrive(deliveries[1])
    gevent.sleep(GAP_SECONDS / 2)
    assert recorder.seqs("s") == [1] and sequencer.by_user == {}


def test_an_own_event_whose_ack_went_without_its_seq_is_sent_live_in_turn(
    app: Any, recorder: Recorder, user: str
) -> None:
    patient = Sequencer(recorder, gap_seconds=600, check_seconds=0)
    try:
        now = utcnow()
        first = stream.allocate(ObjectId(user), 2, now)
        late = stream.EventRow(user, first, "message-status", {"n": 0}, None, now)  # its producer is slow
        mine = stream.EventRow(user, first + 1, "new-message", {"n": 1}, "me", now)
        stream.store([mine])
        patient.open("me", user)
        patient.start("me", 1, 0)
        patient.arrive(Delivery(mine.user_id, mine.seq, mine.event, mine.data, mine.origin))
        # The handler could not put its ack in order in time: the ack goes without seq, the event live.
        patient.send_live("me", mine.seq)
        gevent.sleep(0.05)
        assert recorder.seqs("me") == []
        stream.store([late])
        patient.arrive(Delivery(late.user_id, late.seq, late.event, late.data, late.origin))
        wait_until(lambda: len(recorder.seqs("me")) == 2, "both, in order")
        assert recorder.seqs("me") == [1, 2] and recorder.sent["me"][1][1] == "new-message"
    finally:
        patient.stop()


def test_a_users_seq_is_stored_once(app: Any, user: str) -> None:
    from pymongo.errors import BulkWriteError

    now = utcnow()
    row = stream.EventRow(user, 1, "new-message", {"n": 1}, None, now)
    stream.store([row])
    with pytest.raises(BulkWriteError):
        stream.store([stream.EventRow(user, 1, "new-chat", {"n": 2}, None, now)])
    other = str(ObjectId())
    stream.store([stream.EventRow(other, 1, "new-message", {"n": 3}, None, now)])  # another user's #1
    assert [r.data for r in stream.events_after(user, 0, 10)] == [{"n": 1}]


# --- numbering the events of one change for several users at once --------------------------------------


def test_numbers_for_many_users_are_taken_together_and_follow_each_users_own(app: Any) -> None:
    users = [str(ObjectId()) for _ in range(4)]
    now = utcnow()
    assert stream.allocate(ObjectId(users[0]), 5, now) == 1  # the others have no counter yet
    assert stream.allocate_many({u: 1 for u in users}, now) == {users[0]: 6, users[1]: 1, users[2]: 1, users[3]: 1}
    assert stream.allocate_many({users[0]: 2, users[1]: 3, users[2]: 2}, now) == {
        users[0]: 7,
        users[1]: 2,
        users[2]: 2,
    }
    assert stream.positions(users) == {users[0]: 8, users[1]: 4, users[2]: 3, users[3]: 1}


def _between_the_two_round_trips(monkeypatch: pytest.MonkeyPatch, meanwhile: Any) -> None:
    """Run `meanwhile` once, after a batch has bumped its counters and before it reads them back: what
    another process's allocations do when they land in that instant."""
    import mongomock

    original = mongomock.collection.Collection.find
    pending = [meanwhile]

    def find(self: Any, *args: Any, **kwargs: Any) -> Any:
        if self.name == "event_counters" and pending and "recent" in (args[1] if len(args) > 1 else {}):
            pending.pop()()
        return original(self, *args, **kwargs)

    monkeypatch.setattr(mongomock.collection.Collection, "find", find)


def test_a_batch_finds_its_numbers_whatever_was_taken_after_it(app: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    a, b, c, d = (str(ObjectId()) for _ in range(4))
    now = utcnow()
    stream.allocate_many({a: 5, b: 5, c: 5}, now)
    others: dict[str, Any] = {}

    def meanwhile() -> None:
        others["single"] = stream.allocate(ObjectId(b), 2, now)
        others["batch"] = stream.allocate_many({a: 1, c: 1, d: 1}, now)

    _between_the_two_round_trips(monkeypatch, meanwhile)
    assert stream.allocate_many({a: 1, b: 1, c: 1}, now) == {a: 6, b: 6, c: 6}
    assert others == {"single": 7, "batch": {a: 7, c: 7, d: 1}}
    assert stream.positions([a, b, c, d]) == {a: 7, b: 8, c: 7, d: 1}


def test_a_batch_pushed_out_of_a_counters_memory_numbers_that_user_again(
    app: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    a, b, c = (str(ObjectId()) for _ in range(3))
    now = utcnow()
    stream.allocate_many({a: 1, b: 1, c: 1}, now)

    def meanwhile() -> None:
        for _ in range(stream.RECENT_ALLOCATIONS):
            stream.allocate(ObjectId(a), 1, now)

    _between_the_two_round_trips(monkeypatch, meanwhile)
    firsts = stream.allocate_many({a: 2, b: 2, c: 2}, now)
    # a's #2 and #3 were taken and are lost (a hole, skipped like a failed write); its own come after
    # the others' numbers.
    assert firsts == {a: 2 + 2 + stream.RECENT_ALLOCATIONS, b: 2, c: 2}
    assert stream.positions([a]) == {a: 3 + 2 + stream.RECENT_ALLOCATIONS}


class _DownListener:
    """A Redis client whose subscriptions fail `failures` times, then hold until the bus stops."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.attempts = 0

    def pubsub(self, **_: Any) -> Any:
        self.attempts += 1
        if self.attempts <= self.failures:
            raise redis.ConnectionError("Connection refused")
        return _QuietPubSub()


class _QuietPubSub:
    def subscribe(self, *_: Any) -> None:
        return None

    def listen(self) -> Iterator[dict[str, Any]]:
        while True:
            gevent.sleep(0.01)
            yield {"type": "ping"}

    def close(self) -> None:
        return None


def test_a_redis_outage_is_logged_once_not_at_every_retry(
    sequencer: Sequencer, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from chatbox.realtime import bus as bus_module

    monkeypatch.setattr(bus_module, "RESUBSCRIBE_SECONDS", 0.01)
    listener = _DownListener(failures=5)
    caplog.set_level(logging.DEBUG, logger="chatbox.realtime")
    events_bus = bus_module.RedisBus(client=listener, sequencer=sequencer)  # type: ignore[arg-type]
    events_bus.start()
    try:
        wait_until(events_bus.subscribed.is_set, "the bus subscribed once Redis came back")
    finally:
        events_bus.stop()
    warnings = [r for r in caplog.records if r.name == "chatbox.realtime" and r.levelno >= logging.WARNING]
    assert listener.attempts == 6
    assert [r.getMessage().split(" (")[0] for r in warnings] == [
        "the events channel dropped",
        "the events channel is back after 5 failed subscription(s)",
    ]
    assert not warnings[0].exc_info  # a connection error needs no traceback
