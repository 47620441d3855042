"""The async HTTP client for the agent platform (ChatBotKit API v1, or the local platform speaking it).

::

    from orchestrator.platform import PlatformClient, collect_completion

    async with PlatformClient.from_env() as client:
        body = {"messages": [{"type": "user", "text": "hi"}], "botId": "bot_1"}
        channel = await client.conversations.dispatch(body, channel_id=uuid4().hex)
        async with client.channels.subscribe(channel, history_length=1000) as events:
            result = await collect_completion(events)

Requests and results follow the wire protocol (``/work/shared/reference/platform-api.md``); records keep every
wire field in ``raw``; stream decoders are sans-IO (:class:`JSONLDecoder`, :class:`SSEDecoder`); every failure
is an :class:`~orchestrator.PlatformError`.
"""

from ._bots import Bots as Bots
from ._channels import Channels as Channels
from ._client import DEFAULT_BASE_URL as DEFAULT_BASE_URL
from ._client import PlatformClient as PlatformClient
from ._conversations import Conversations as Conversations
from ._decoders import JSONLDecoder as JSONLDecoder
from ._event_log import Events as Events
from ._events import CompletionResult as CompletionResult
from ._events import StreamEvent as StreamEvent
from ._events import collect_completion as collect_completion
from ._records import Bot as Bot
from ._records import Conversation as Conversation
from ._records import EventLogItem as EventLogItem
from ._records import Message as Message
from ._records import Record as Record
from ._records import Task as Task
from ._records import TaskExecution as TaskExecution
from ._retry import RetryPolicy as RetryPolicy
from ._sse import SSEDecoder as SSEDecoder
from ._tasks import Tasks as Tasks
from ._transport import default_transport as default_transport
from ._wire import StreamFormat as StreamFormat

__all__ = [
    "DEFAULT_BASE_URL",
    "Bot",
    "Bots",
    "Channels",
    "CompletionResult",
    "Conversation",
    "Conversations",
    "EventLogItem",
    "Events",
    "JSONLDecoder",
    "Message",
    "PlatformClient",
    "Record",
    "RetryPolicy",
    "SSEDecoder",
    "StreamEvent",
    "StreamFormat",
    "Task",
    "TaskExecution",
    "Tasks",
    "collect_completion",
    "default_transport",
]
