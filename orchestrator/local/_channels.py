"""Channels: named pub/sub with bounded replay history and O(1)-per-subscriber fan-out.

A publish encodes nothing and copies nothing: the same :class:`Frame` goes into the history deque and onto
each subscriber's queue, and each waiting subscriber is woken through one future. A subscriber drains
everything queued in one batch, so a burst of events becomes one write. There is no polling anywhere.

Dispatch channels keep the last 1000 events for an hour after the last publish; client publishes (tool
results) keep no history. Waiters (a run blocked on a live tool) are subscribers that take one message.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator, Callable

from ._wire import Frame

__all__ = ["Channel", "ChannelHub", "Subscriber"]

HISTORY_LIMIT = 1000
HISTORY_TTL = 3600.0
# a subscriber that falls this far behind is cut off; it reconnects with historyLength
_BACKLOG_LIMIT = 100_000


class Subscriber:
    """A queue of frames for one stream, woken by publishers."""

    __slots__ = ("_items", "_waiter", "closed", "overflowed")

    def __init__(self) -> None:
        self._items: deque[Frame] = deque()
        self._waiter: asyncio.Future[None] | None = None
        self.closed = False
        self.overflowed = False

    def push(self, frame: Frame) -> None:
        if self.closed:
            return
        self._items.append(frame)
        if len(self._items) > _BACKLOG_LIMIT:
            self.overflowed = True
            self.closed = True
        self._wake()

    def extend(self, frames: list[Frame]) -> None:
        for frame in frames:
            self.push(frame)

    def close(self) -> None:
        """End the stream once what is queued has been read."""
        self.closed = True
        self._wake()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def next_batch(self) -> list[Frame] | None:
        """Everything queued (waiting for at least one frame), or ``None`` once closed and drained."""
        while not self._items:
            if self.closed:
                return None
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        batch = list(self._items)
        self._items.clear()
        return batch

    async def batches(self) -> AsyncIterator[list[Frame]]:
        while (batch := await self.next_batch()) is not None:
            yield batch


class Channel:
    """Subscribers of one channel id, and its history (created on the first publish that keeps history)."""

    __slots__ = ("history", "history_limit", "last_publish", "subscribers")

    def __init__(self, history_limit: int) -> None:
        self.subscribers: set[Subscriber] = set()
        self.history: deque[Frame] | None = None
        self.history_limit = history_limit
        self.last_publish = 0.0


class ChannelHub:
    """Every channel, by id. Channels with no subscribers and an expired history are dropped lazily.

    ``on_keep(channel_id, frame, now, history_limit)``, when set, sees every frame kept in a history (the
    state file persists them, so that ``historyLength`` replays survive a restart).
    """

    def __init__(self, *, ttl: float = HISTORY_TTL) -> None:
        self._channels: dict[str, Channel] = {}
        self._ttl = ttl
        self._publishes_since_sweep = 0
        self.closed = False
        self.on_keep: Callable[[str, Frame, float, int], None] | None = None

    def restore(
        self, channel_id: str, frames: list[Frame], *, last_publish: float, history_limit: int
    ) -> None:
        """Put back a channel's history read from storage (no subscriber sees it as new)."""
        channel = self._channel(channel_id, history_limit)
        channel.history = deque(frames[-history_limit:], maxlen=history_limit)
        channel.last_publish = last_publish

    def __len__(self) -> int:
        return len(self._channels)

    def _channel(self, channel_id: str, history_limit: int) -> Channel:
        channel = self._channels.get(channel_id)
        if channel is None:
            channel = self._channels[channel_id] = Channel(history_limit)
        return channel

    def publish(
        self, channel_id: str, frame: Frame, *, now: float, keep: bool, history_limit: int = HISTORY_LIMIT
    ) -> int:
        """Deliver ``frame`` to every subscriber, keep it in the history when ``keep``; the receiver count."""
        channel = self._channels.get(channel_id)
        if channel is None:
            if not keep:
                return 0
            channel = self._channel(channel_id, history_limit)
        if keep:
            if channel.history is None or (now - channel.last_publish > self._ttl):
                channel.history = deque(maxlen=channel.history_limit)
            channel.history.append(frame)
            channel.last_publish = now
            if self.on_keep is not None:
                self.on_keep(channel_id, frame, now, channel.history_limit)
        for subscriber in channel.subscribers:
            subscriber.push(frame)
        self._publishes_since_sweep += 1
        if self._publishes_since_sweep >= 10_000:
            self.sweep(now)
        return len(channel.subscribers)

    def subscribe(
        self,
        channel_id: str,
        *,
        now: float,
        history_length: int = 0,
        history_limit: int = HISTORY_LIMIT,
        lead: list[Frame] | None = None,
    ) -> Subscriber:
        """A subscriber that gets ``lead``, then the last ``history_length`` stored frames, oldest first."""
        channel = self._channel(channel_id, history_limit)
        subscriber = Subscriber()
        if lead:
            subscriber.extend(lead)
        if self.closed:
            subscriber.close()
            return subscriber
        if history_length > 0 and channel.history and now - channel.last_publish <= self._ttl:
            stored = list(channel.history)
            subscriber.extend(stored[-history_length:])
        channel.subscribers.add(subscriber)
        return subscriber

    def unsubscribe(self, channel_id: str, subscriber: Subscriber) -> None:
        channel = self._channels.get(channel_id)
        if channel is not None:
            channel.subscribers.discard(subscriber)

    def has_history(self, channel_id: str, now: float) -> bool:
        channel = self._channels.get(channel_id)
        return bool(channel and channel.history and now - channel.last_publish <= self._ttl)

    def sweep(self, now: float) -> None:
        """Forget channels that nobody listens to and whose history has expired."""
        self._publishes_since_sweep = 0
        expired = [
            cid
            for cid, ch in self._channels.items()
            if not ch.subscribers and (ch.history is None or now - ch.last_publish > self._ttl)
        ]
        for cid in expired:
            del self._channels[cid]

    def close(self) -> None:
        """End every subscription (platform shutdown)."""
        self.closed = True
        for channel in self._channels.values():
            for subscriber in channel.subscribers:
                subscriber.close()
