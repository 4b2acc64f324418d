"""The flows routes: their bodies and their declarations."""

# ruff: noqa: E501  (the API reference's sentences)

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec
from msgspec import UNSET, Meta, UnsetType

from hub.flows.document import MAX_STEPS
from hub.flows.document import schema_components as flow_components
from web.operation import FORBIDDEN, NOT_FOUND, UNAUTHORIZED, WRITE, Answer, Fault, Operation, Param


class Flow(msgspec.Struct):
    """A Studio flow: the draft document, its status and its newest published version."""

    id: str
    name: str
    trigger: Annotated[
        Any,
        Meta(
            extra_json_schema={
                "oneOf": [{"$ref": "#/components/schemas/FlowTrigger"}, {"type": "null"}]
            }
        ),
    ]
    start: str | None
    steps: Annotated[
        dict[str, Any] | None, Meta(description="null while a draft was created without steps.")
    ]
    status: Literal["draft", "published"]
    version: int | None
    priority: int
    created_at: Annotated[str, Meta(extra_json_schema={"format": "date-time"})]
    updated_at: Annotated[str, Meta(extra_json_schema={"format": "date-time"})]


class ListFlowsReply(msgspec.Struct):
    items: list[Flow]


FlowName = Annotated[str, Meta(min_length=1, max_length=200)]
FlowTrigger = Annotated[
    dict[str, Any], Meta(extra_json_schema={"$ref": "#/components/schemas/FlowTrigger"})
]
Priority = Annotated[int, Meta(ge=-1000, le=1000)]
DraftSteps = Annotated[
    dict[str, Any], Meta(max_length=MAX_STEPS, description="Step id to step (may be unfinished).")
]


class FlowCreate(msgspec.Struct):
    """A draft may be unfinished; it is validated when published."""

    name: FlowName
    trigger: FlowTrigger | None = None
    start: str | None = None
    steps: DraftSteps | None = None
    priority: Priority | None = None


class FlowPatch(msgspec.Struct):
    """What to change in a flow; a field left out stays as it is."""

    name: FlowName | UnsetType | None = UNSET
    trigger: FlowTrigger | UnsetType | None = UNSET
    start: str | UnsetType | None = UNSET
    steps: DraftSteps | UnsetType | None = UNSET
    priority: Priority | UnsetType | None = UNSET


class FlowProblemsProblemsItem(msgspec.Struct):
    step: str | None
    detail: str


class FlowProblems(msgspec.Struct):
    problems: list[FlowProblemsProblemsItem]


class FlowSimulationTranscriptItemOptionsItem(msgspec.Struct):
    label: str
    value: str


class FlowSimulationTranscriptItem(msgspec.Struct, rename={"from_": "from"}):
    """A line of the simulated conversation: the bot's (with the options it offered) or
    the contact's (with the option it tapped, if any)."""

    from_: Literal["bot", "contact"]
    text: str
    options: list[FlowSimulationTranscriptItemOptionsItem] | UnsetType = UNSET
    option: str | UnsetType | None = UNSET


class FlowSimulationLogItem(msgspec.Struct):
    step: str
    outcome: str


class FlowSimulation(msgspec.Struct):
    transcript: list[FlowSimulationTranscriptItem]
    log: list[FlowSimulationLogItem]
    status: Literal["running", "waiting", "done", "handed_off", "failed"]
    step: str
    error: str | None
    vars: dict[str, Any]
    contact: dict[str, Any]


_DOCUMENT = flow_components()[1]["FlowDocument"]["properties"]


class FlowCheck(msgspec.Struct):
    """A flow document to check: its parts are taken as sent, for the flow's own parser to
    answer every problem on its step (422 ``invalid_flow``); other fields (a flow's name)
    are ignored, so a whole flow can be sent."""

    trigger: Annotated[Any, Meta(extra_json_schema=_DOCUMENT["trigger"])] | UnsetType = UNSET
    start: Annotated[Any, Meta(extra_json_schema=_DOCUMENT["start"])] | UnsetType = UNSET
    steps: Annotated[Any, Meta(extra_json_schema=_DOCUMENT["steps"])] | UnsetType = UNSET

    def document(self) -> dict[str, Any]:
        """The document's parts as sent (None for a part left out)."""
        parts = {"trigger": self.trigger, "start": self.start, "steps": self.steps}
        return {k: None if v is UNSET else v for k, v in parts.items()}


class SimulatedContact(msgspec.Struct):
    name: str | None = None
    email: str | None = None
    phone: str | None = None
    attributes: Annotated[dict[str, Any], Meta(max_length=100)] = {}


class SimulatedReply(msgspec.Struct):
    text: Annotated[str, Meta(max_length=10_000)] = ""
    option: str | None = None


class FlowSimulate(FlowCheck):
    """A draft and what the simulated contact is and answers, in order."""

    contact: SimulatedContact | None = None
    replies: Annotated[list[SimulatedReply], Meta(max_length=100)] = []
    now: (
        Annotated[
            datetime, Meta(description="The simulated time (business hours); now if left out.")
        ]
        | None
    ) = None


class FlowRunStepsItem(msgspec.Struct):
    step: str
    at: Annotated[str, Meta(extra_json_schema={"format": "date-time"})]
    outcome: Annotated[str, Meta(description="What the bot did, in a few words.")]


class FlowRun(msgspec.Struct):
    id: str
    flow_id: str
    version: int
    status: Literal["running", "waiting", "done", "handed_off", "failed"]
    steps: list[FlowRunStepsItem]
    error: Annotated[str | None, Meta(description="Why a failed run failed.")]
    started_at: Annotated[str, Meta(extra_json_schema={"format": "date-time"})]


class ListFlowRunsReply(msgspec.Struct):
    items: list[FlowRun]


class GetFlowSecretReply(msgspec.Struct):
    secret: str
    algorithm: str


# GET /api/flows
LIST_FLOWS = Operation(
    method="get",
    operation_id="listFlows",
    summary="The workspace's flows",
    tags=("flows",),
    answers={200: Answer("The flows.", body=ListFlowsReply)},
    faults=(
        UNAUTHORIZED,
        FORBIDDEN,
    ),
)


# POST /api/flows
CREATE_FLOW = Operation(
    method="post",
    operation_id="createFlow",
    summary="Create a draft flow (owners and admins)",
    tags=("flows",),
    security=WRITE,
    body=FlowCreate,
    answers={201: Answer("The draft.", body=Flow)},
    faults=(
        UNAUTHORIZED,
        FORBIDDEN,
        Fault(422, "invalid", "Invalid fields; a sentence names the field."),
    ),
)


# POST /api/flows/validate
VALIDATE_FLOW = Operation(
    method="post",
    operation_id="validateFlow",
    summary="Validate a flow document: every problem at once",
    tags=("flows",),
    security=WRITE,
    body=FlowCheck,
    answers={200: Answer("No problems: `{problems: []}`.", body=FlowProblems)},
    faults=(
        UNAUTHORIZED,
        FORBIDDEN,
        Fault(
            422,
            "invalid_flow",
            "`invalid_flow`: the error shape plus `problems: [{step, detail}]`, every problem at once, each on its step (null: the flow's own).",
        ),
    ),
)


# POST /api/flows/simulate
SIMULATE_FLOW = Operation(
    method="post",
    operation_id="simulateFlow",
    summary="Run a draft against a simulated contact through the real interpreter; nothing is stored or sent, an http step takes its error branch, timers do not fire",
    tags=("flows",),
    security=WRITE,
    body=FlowSimulate,
    answers={200: Answer("The conversation the flow would have.", body=FlowSimulation)},
    faults=(
        UNAUTHORIZED,
        FORBIDDEN,
        Fault(
            422,
            "invalid_flow",
            "`invalid_flow`: the error shape plus `problems: [{step, detail}]`, every problem at once, each on its step (null: the flow's own).",
        ),
    ),
)


# GET /api/flows/{flow_id}
GET_FLOW = Operation(
    method="get",
    operation_id="getFlow",
    summary="One flow",
    tags=("flows",),
    params=(Param("flow_id", where="path", required=True),),
    answers={200: Answer("The flow.", body=Flow)},
    faults=(
        UNAUTHORIZED,
        FORBIDDEN,
        NOT_FOUND,
    ),
)


# PATCH /api/flows/{flow_id}
UPDATE_FLOW = Operation(
    method="patch",
    operation_id="updateFlow",
    summary="Edit the draft (a published version stays as published)",
    tags=("flows",),
    security=WRITE,
    body=FlowPatch,
    params=(Param("flow_id", where="path", required=True),),
    answers={200: Answer("The flow.", body=Flow)},
    faults=(
        UNAUTHORIZED,
        FORBIDDEN,
        NOT_FOUND,
        Fault(422, "invalid", "Invalid fields; a sentence names the field."),
    ),
)


# DELETE /api/flows/{flow_id}
DELETE_FLOW = Operation(
    method="delete",
    operation_id="deleteFlow",
    summary="Delete a flow",
    tags=("flows",),
    security=WRITE,
    params=(Param("flow_id", where="path", required=True),),
    answers={204: Answer("Deleted.")},
    faults=(
        UNAUTHORIZED,
        FORBIDDEN,
        NOT_FOUND,
    ),
)


# POST /api/flows/{flow_id}/publish
PUBLISH_FLOW = Operation(
    method="post",
    operation_id="publishFlow",
    summary="Freeze the draft as the next numbered version",
    tags=("flows",),
    security=WRITE,
    params=(Param("flow_id", where="path", required=True),),
    answers={200: Answer("The flow with its new `version`.", body=Flow)},
    faults=(
        UNAUTHORIZED,
        FORBIDDEN,
        NOT_FOUND,
        Fault(
            422,
            "invalid_flow",
            "`invalid_flow`: the error shape plus `problems: [{step, detail}]`, every problem at once, each on its step (null: the flow's own).",
        ),
    ),
)


# POST /api/flows/{flow_id}/unpublish
UNPUBLISH_FLOW = Operation(
    method="post",
    operation_id="unpublishFlow",
    summary="Stop new runs (running ones keep their version)",
    tags=("flows",),
    security=WRITE,
    params=(Param("flow_id", where="path", required=True),),
    answers={200: Answer("The flow, a draft again.", body=Flow)},
    faults=(
        UNAUTHORIZED,
        FORBIDDEN,
        NOT_FOUND,
    ),
)


# GET /api/conversations/{id}/flow-runs
LIST_FLOW_RUNS = Operation(
    method="get",
    operation_id="listFlowRuns",
    summary="What flows did in this conversation: each run with its steps, newest first",
    tags=("flows",),
    params=(Param("id", where="path", description="Conversation id", required=True),),
    answers={200: Answer("The runs.", body=ListFlowRunsReply)},
    faults=(
        UNAUTHORIZED,
        FORBIDDEN,
        NOT_FOUND,
    ),
)


# GET /api/flows/secret
GET_FLOW_SECRET = Operation(
    method="get",
    operation_id="getFlowSecret",
    summary="The key that signs this workspace's http steps (owners and admins; audited)",
    tags=("flows",),
    answers={
        200: Answer(
            "`X-Inviaro-Signature: sha256=<hex HMAC-SHA256 of the raw body>` with the bytes of `secret` (hex) as the key.",
            body=GetFlowSecretReply,
        )
    },
    faults=(
        UNAUTHORIZED,
        FORBIDDEN,
    ),
)
