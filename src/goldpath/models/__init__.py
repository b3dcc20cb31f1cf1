"""Chat models: the protocol, the offline default and the scripted model for tests.

The OpenAI-compatible provider lives in `goldpath.models.openai` and needs the ``openai``
extra; it is imported only when chosen.
"""

from goldpath.models._base import ChatModel, Message, ModelOutput, TextDelta, Thought, ToolCall
from goldpath.models.offline import OfflineModel
from goldpath.models.scripted import Fail, Pause, ScriptedModel, ScriptStep

__all__ = [
    "ChatModel",
    "Fail",
    "Message",
    "ModelOutput",
    "OfflineModel",
    "Pause",
    "ScriptStep",
    "ScriptedModel",
    "TextDelta",
    "Thought",
    "ToolCall",
]
