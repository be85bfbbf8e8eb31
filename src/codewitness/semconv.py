"""Every attribute, metric and event name codewitness exports, in one place.

OpenTelemetry names follow the current semantic conventions: the stable ``code.*`` attributes
(the deprecated ``code.function``/``code.filepath``/``code.lineno`` are never emitted) and the
incubating ``gen_ai.*`` ones. Our own names live under the ``codewitness.`` namespace.
Standard library only; imported by the runtime sensor.
"""

from __future__ import annotations

# -- OpenTelemetry: code attributes (stable) --------------------------------------------------
CODE_FUNCTION_NAME = "code.function.name"
CODE_FILE_PATH = "code.file.path"
CODE_LINE_NUMBER = "code.line.number"
CODE_COLUMN_NUMBER = "code.column.number"
CODE_STACKTRACE = "code.stacktrace"

# -- OpenTelemetry: GenAI (incubating) --------------------------------------------------------
GEN_AI_OPERATION_NAME = "gen_ai.operation.name"
GEN_AI_PROVIDER_NAME = "gen_ai.provider.name"
GEN_AI_REQUEST_MODEL = "gen_ai.request.model"
GEN_AI_REQUEST_TEMPERATURE = "gen_ai.request.temperature"
GEN_AI_RESPONSE_MODEL = "gen_ai.response.model"
GEN_AI_USAGE_INPUT_TOKENS = "gen_ai.usage.input_tokens"
GEN_AI_USAGE_OUTPUT_TOKENS = "gen_ai.usage.output_tokens"
GEN_AI_AGENT_NAME = "gen_ai.agent.name"
GEN_AI_CONVERSATION_ID = "gen_ai.conversation.id"
GEN_AI_TOOL_NAME = "gen_ai.tool.name"
GEN_AI_TOOL_CALL_ID = "gen_ai.tool.call.id"
GEN_AI_TOOL_TYPE = "gen_ai.tool.type"
GEN_AI_RESPONSE_ID = "gen_ai.response.id"
#: Opt-in content: the prompt (truncated and redacted), as the conventions' message list.
GEN_AI_INPUT_MESSAGES = "gen_ai.input.messages"
#: ``gen_ai.operation.name`` values.
GEN_AI_OP_INVOKE_AGENT = "invoke_agent"
GEN_AI_OP_EXECUTE_TOOL = "execute_tool"
GEN_AI_OP_CHAT = "chat"
GEN_AI_OP_TEXT_COMPLETION = "text_completion"

# -- OpenTelemetry: version control (incubating) ----------------------------------------------
VCS_REF_HEAD_REVISION = "vcs.ref.head.revision"
VCS_REPOSITORY_URL_FULL = "vcs.repository.url.full"

# -- OpenTelemetry: general -------------------------------------------------------------------
SERVICE_NAME = "service.name"
SERVICE_VERSION = "service.version"
EXCEPTION_TYPE = "exception.type"
EXCEPTION_MESSAGE = "exception.message"

# -- codewitness namespace --------------------------------------------------------------------
CW_ORIGIN = "codewitness.origin"
CW_GENERATION_ID = "codewitness.generation.id"
CW_AI_SHARE = "codewitness.ai_share"
CW_AGENT = "codewitness.agent"
CW_REVISION = "codewitness.revision"
CW_PROMPT_NAME = "codewitness.prompt.name"
CW_PROMPT_VERSION = "codewitness.prompt.version"
CW_PROMPT_HASH = "codewitness.prompt.sha256"
CW_MODEL = "codewitness.model"
CW_SESSION_ID = "codewitness.session.id"
CW_FILES_WRITTEN = "codewitness.files.written"
CW_LINES_WRITTEN = "codewitness.lines.written"
CW_CONTEXT_FILES = "codewitness.context.files"
CW_COMMITS = "codewitness.commits"
CW_COST_USD = "codewitness.cost.usd"

# -- quality metrics (exported as OpenTelemetry gauges, one per metric) ------------------------
#: The metric's name is ``codewitness.quality.<metric id>``; its attributes name the grouping.
METRIC_QUALITY_PREFIX = "codewitness.quality."
CW_METRIC_STATUS = "codewitness.metric.status"
CW_METRIC_THRESHOLD = "codewitness.metric.threshold"
CW_METRIC_SAMPLES = "codewitness.metric.samples"
CW_GROUP_BY = "codewitness.group.by"
CW_GROUP = "codewitness.group"

# -- runtime sensor ---------------------------------------------------------------------------
EXCEPTION_STACKTRACE = "exception.stacktrace"
METRIC_FUNCTION_CALLS = "codewitness.function.calls"
METRIC_FUNCTION_ERRORS = "codewitness.function.errors"
METRIC_FUNCTION_DURATION = "codewitness.function.duration"
CW_QUANTILE = "codewitness.quantile"
CW_EXCEPTION_ARGUMENTS = "codewitness.exception.arguments"
CW_SAMPLE_ARGUMENTS = "codewitness.sample.arguments"
CW_SAMPLE_RESULT = "codewitness.sample.result"
