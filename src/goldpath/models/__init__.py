"""Chat models: the protocol, the offline default and the scripted model for tests.

The OpenAI-compatible provider lives in `goldpath.models.openai` and needs the ``openai``
extra; it is imported only when chosen.
"""

from goldpath.models._base import (
    ChatModel,
    Message,
    ModelOutput,
    TextDelta,
    Thought,
    ToolCall,
)
from goldpath.models._spec import MODEL_NAMES, split_model_name
from goldpath.models._usage import Usage, report_usage, usage_mark, usage_since
from goldpath.models.offline import OfflineModel
from goldpath.models.scripted import Fail, Pause, ScriptedModel, ScriptStep

__all__ = [
    "MODEL_NAMES",
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
    "Usage",
    "report_usage",
    "split_model_name",
    "usage_mark",
    "usage_since",
]
