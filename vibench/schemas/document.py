"""The spec language v1 as pydantic models.

These models validate the *structure* of a spec document (pass 2) and generate the JSON Schema
that editors use. Block parameters are open here (``NodeSpec`` allows extra keys): each node's
parameters are validated against its block's own parameter model once ``${...}`` templates are
evaluated, because a node's block is only known then (it may itself be a template, or a composite
whose parameters the spec declares). The JSON Schema export adds the per-block union on top.

Every model forbids unknown keys, so a misspelt key is an error with a "did you mean".
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    StringConstraints,
)
from pydantic_core import PydanticCustomError

DTYPES = ("float32", "float64", "float16", "bfloat16", "int64", "int32", "bool", "complex64", "complex128")
"""Tensor element types a spec may declare."""

Dtype = Literal["float32", "float64", "float16", "bfloat16", "int64", "int32", "bool", "complex64", "complex128"]

Scalar = int | float | bool | str | None


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True, populate_by_name=True)


def _some_choices(value: Any) -> Any:
    """``choices: []`` would refuse every value ("must be one of" nothing): refused where it is written."""
    if isinstance(value, list) and not value:
        raise PydanticCustomError("empty_choices", "a list of at least one value (`choices: []` allows none)")
    return value


class ParamSpec(_Strict):
    """A declared parameter of a template or composite block.

    Shorthand: ``width: 64`` declares an ``int`` parameter with default 64.
    """

    type: str | None = Field(
        None,
        description="Type: int, float, bool, str, list[T], dict[str, T], `T | None`, or a union `A | B`. "
        "Inferred from the default when omitted.",
        examples=["int", "float", "list[int]", "int | None"],
    )
    default: Any = Field(
        None, description="Default value; a parameter without one is required."
    )
    # Strict: `ge: "10"` was read as 10, `le: true` as 1.
    ge: StrictFloat | None = Field(None, description="Lower bound (inclusive) for numbers.")
    gt: StrictFloat | None = Field(None, description="Lower bound (exclusive) for numbers.")
    le: StrictFloat | None = Field(None, description="Upper bound (inclusive) for numbers.")
    lt: StrictFloat | None = Field(None, description="Upper bound (exclusive) for numbers.")
    choices: Annotated[list[Scalar] | None, BeforeValidator(_some_choices)] = Field(
        None, min_length=1, description="The only values allowed.")
    slot: str | None = Field(
        None,
        description="A spec-library folder, e.g. isfm/backbone: the value (a str, or a list of str) names specs in "
        "it (`isfm/backbone/B_08_PatchTST`), found on the spec search path; a typed slot of the template.",
    )
    doc: str | None = Field(None, description="One line shown in --list, hover and the emitted docstring.")


def _expand_param(value: Any) -> Any:
    if isinstance(value, dict):
        return value
    return {"default": value}


ParamEntry = Annotated[
    ParamSpec,
    BeforeValidator(_expand_param, json_schema_input_type=ParamSpec | int | float | bool | str | list | None),
]


DimValue = int | str  # a bool or a float (lax here) is E212 at the dimension, with the shape's other faults


ShapeTemplate = Annotated[str, StringConstraints(pattern=r"^\s*\$\{.*\}\s*$")]


class InputSpec(_Strict):
    """A tensor input: its symbolic shape and element type."""

    shape: list[DimValue] | ShapeTemplate = Field(
        description="One entry per dimension: an integer, a symbol name such as B or L, or a `${...}` expression; "
        "or one `${...}` that gives the whole list (e.g. to choose a layout).",
        examples=[["B", 1, "L"], ["B", "${in_channels}", "L"]],
    )
    dtype: Dtype = Field("float32", description="Element type.")
    when: StrictBool | str | None = Field(
        None, description="Take this input only when true (a `${...}` over parameters); otherwise forward omits it."
    )
    layout: str | None = Field(
        None,
        description="The axis order the caller passes, BLC or BCL (usually `${layout}`), for a `shape` written "
        "channels-last [B, L, C]: BCL takes [B, C, L] (the template transposes it where it needs to).",
        examples=["${layout}", "BCL"],
    )
    as_: Literal["BLC", "BCL"] | None = Field(
        None,
        alias="as",
        description="The axis order the nodes read, BLC or BCL, whatever `layout` the caller passes: the compiler "
        "transposes the input when the two differ, so no node switches on the layout.",
        examples=["BCL"],
    )
    optional: StrictBool = Field(
        False,
        description="Take this input only when some node reads it: for a template whose slot components may or "
        "may not take it (connected with `port?: name`); otherwise forward omits it.",
    )
    doc: str | None = Field(None, description="What this input carries.")


class OutputSpec(_Strict):
    """An output with options: the value it returns and when the model has it."""

    from_: str = Field(alias="from", description="The node (or node.port) whose value is returned.")
    when: StrictBool | str | None = Field(
        None, description="Have this output only when true; nodes that only feed switched-off outputs are not built."
    )
    doc: str | None = Field(None, description="What this output carries.")
    layout: str | None = Field(
        None,
        description="The axis order the caller gets, BLC or BCL (usually `${layout}`), for a 3-D output whose node "
        "gives the order named by `as`: the compiler transposes it when the two differ.",
        examples=["${layout}"],
    )
    as_: Literal["BLC", "BCL"] | None = Field(
        None, alias="as", description="The axis order of the `from` node's value, BLC or BCL (with `layout`).",
        examples=["BCL"],
    )
    shape: list[DimValue] | None = Field(
        None,
        description="The shape this output promises: integers, symbols (B, L), parameter names or `${...}`; "
        "a value the compiler proves different is E308.",
        examples=[["B", "num_classes"]],
    )


OutputValue = str | OutputSpec


InValue = str | list[str] | dict[str, str]


class NodeSpec(_Strict):
    """One node of the graph. Keys other than the ones below are the block's parameters."""

    model_config = ConfigDict(extra="allow", defer_build=True, populate_by_name=True)

    block: str = Field(
        description="Block type: a catalogue block (conv1d, linear, ...), a composite from `blocks:`, "
        "a library spec (cnn/ResNet1D), or a `${...}` expression naming one."
    )
    in_: InValue | None = Field(
        None,
        alias="in",
        description="Inputs by name: one name, a list (in port order), or a mapping port -> name. "
        "`node.port` picks one output of a multi-output node.",
    )
    # Strict, as block and template parameters are: `repeat: 2.0` was read as 2, `checkpoint: 1` as true.
    repeat: StrictInt | str | None = Field(
        None,
        description="Chain this many copies (each takes the previous one's output); `${i}` is the copy index.",
    )
    when: StrictBool | str | None = Field(
        None, description="Build this node only when true; when false the node passes its first input through."
    )
    for_each: list[Any] | dict[str, Any] | str | None = Field(
        None,
        description="One copy per list element, side by side on the same inputs (`${item}` is the element, "
        "`${i}` its index); the node's value is the list of the copies' outputs, read whole by a block that "
        "takes a list (concat, add, ensemble_fusion) or one by one as `node.0`, `node.1`, ... Over a mapping, "
        "one node per key, named by the key (`${key}`, `${item}` its value); `node.*` returns each under its key.",
    )
    inherit: StrictBool = Field(
        False,
        description="Pass every parameter of the enclosing spec that this node's block declares "
        "(how a template's flat hyperparameters reach the component filling a slot).",
    )
    with_: dict[str, Any] | str | None = Field(
        None,
        alias="with",
        description="More parameters for the block as one mapping, usually a `${...}` (e.g. a task's settings "
        "from a template parameter); explicit parameters win over it, and it wins over `inherit`.",
    )
    checkpoint: StrictBool | str = Field(
        False,
        description="Activation (gradient) checkpointing: in training, keep only this node's inputs and run it "
        "again in the backward pass (torch.utils.checkpoint), trading compute for memory: true or false, "
        "a bool parameter's name, or a `${...}` that gives one.",
    )
    doc: str | None = Field(None, description="A note kept as a comment in the emitted code.")


class CheckSpec(_Strict):
    """A condition the parameters must meet, reported with its message at the user's setting."""

    that: StrictBool | str = Field(description="The condition: a `${...}` over parameters and `let:` values.",
                             examples=["${num_classes is None or is_int(num_classes)}"])
    message: str = Field(
        description="What is wrong, said to the user when the condition is false (may interpolate `${...}`); "
        "the expression itself is never shown."
    )
    at: str | None = Field(
        None,
        description="The parameter the check is about: a failure is located where the user set it (`with:`, "
        "--set or a PHM-Vibench config key), else at its declaration.",
    )
    severity: Literal["error", "warning", "note"] = Field(
        "error",
        description="error (E215, the compile stops), warning (W106) or note (I104: e.g. a value read as another "
        "spelling); the model compiles after a warning or note.",
    )


LetEntry = Annotated[
    Any,
    Field(description="A value computed once from the parameters (usually a `${...}`), read like a parameter."),
]


class BlockSpec(_Strict):
    """A composite block: a sub-graph with its own parameters, emitted as its own nn.Module class."""

    doc: str | None = Field(None, description="What the block does (the class docstring).")
    params: dict[str, ParamEntry] = Field(default_factory=dict, description="Declared parameters.")
    let: dict[str, LetEntry] = Field(
        default_factory=dict, description="Named values derived from the parameters, computed once, in order."
    )
    checks: list[CheckSpec] = Field(default_factory=list, description="Conditions the parameters must meet.")
    inputs: dict[str, InputSpec] = Field(description="Tensor inputs with symbolic shapes.")
    nodes: dict[str, NodeSpec] = Field(description="The nodes, in order; the key is the node name.")
    outputs: dict[str, OutputValue] = Field(description="Output name -> node (or node.port).")


def _by_reason(value: Any) -> Any:
    """``{why: [key, ...]}`` entries of ``ignored_keys`` as ``{key: why}`` (other values are left to validation)."""
    if not isinstance(value, dict):
        return value
    out: dict[Any, Any] = {}
    for key, why in value.items():
        if isinstance(why, list) and all(isinstance(k, str) for k in why):
            out.update((k, key) for k in why)
        else:
            out[key] = why
    return out


def _rename_pair(value: Any) -> Any:
    """A rename of another length than two: one error that says what a rename is (pydantic's own says
    `missing required key 1` or `at most 2 items`); other values are left to validation."""
    if isinstance(value, (list, tuple)) and len(value) != 2:
        raise PydanticCustomError("rename_pair", '`[pattern, replacement]`, two strings (a regular expression over '
                                  'the reference\'s keys and what it becomes), e.g. `["^classifier[.]", "head."]`')
    return value


RenamePair = Annotated[tuple[str, str], BeforeValidator(_rename_pair)]


class ReferenceSpec(_Strict):
    """The PHM-Vibench model a template reproduces, and how its configs and checkpoints map onto it."""

    model: str = Field(description="The reference model as `type/name` of its PHM-Vibench config, e.g. CNN/ResNet1D.")
    source: str | None = Field(None, description="Where the reference lives (file in the PHM-Vibench repository).")
    ignored_keys: Annotated[dict[str, str], BeforeValidator(_by_reason)] = Field(
        default_factory=dict,
        description="Config keys the reference accepts but never reads, with why (`key: why`, or `why: [key, ...]` "
        "for several keys with one reason); reported as warnings when a PHM-Vibench config sets them.",
        json_schema_extra={"additionalProperties": {"anyOf": [{"type": "string"},
                                                              {"type": "array", "items": {"type": "string"}}]}},
    )
    state_dict_renames: list[RenamePair] | ShapeTemplate = Field(
        default_factory=list,
        description="Regex rewrites from reference state_dict keys to this model's (applied in order), so a "
        "reference checkpoint loads with vibench.runtime.checkpoint.load_reference_state_dict; or one `${...}` "
        "over the parameters that gives the list (when the reference's layer indices depend on them).",
    )


def _format_version(value: Any) -> Any:
    """``true`` and ``1.0`` equal 1, and pydantic's ``Literal[1]`` takes them: only the integer is the version."""
    if type(value) is not int:
        raise PydanticCustomError("literal_error", "Input should be 1")
    return value


def _given_as(tp: Any, what: str) -> BeforeValidator:
    """For ``tp | None`` with the default None: a key written with nothing under it (``nodes:``) or ``null`` is
    E102 at that key (not "missing", E103); the JSON Schema shows ``tp`` alone. ``what``: what it expects."""

    def given(value: Any) -> Any:
        if value is None:
            raise PydanticCustomError("empty_key", "{what}, not an empty value (null)", {"what": what})
        return value

    return BeforeValidator(given, json_schema_input_type=tp)


_NAME_GIVEN = _given_as(str, "a class name")
_EXTENDS_GIVEN = _given_as(str, "a template name or file")
_INPUTS_GIVEN = _given_as(dict[str, InputSpec], "a mapping of input names to shapes")
_NODES_GIVEN = _given_as(dict[str, NodeSpec], "a mapping of node names to nodes")
_OUTPUTS_GIVEN = _given_as(dict[str, OutputValue], "a mapping of output names to nodes")


class SpecDocument(_Strict):
    """A vibench spec: a model as a DAG of typed blocks, or a template instantiation (`extends`)."""

    schema_: str | None = Field(None, alias="$schema", description="The JSON Schema of this file (JSON specs).")
    vibench: Annotated[Literal[1], BeforeValidator(_format_version)] = Field(description="Spec format version.")
    name: Annotated[str | None, _NAME_GIVEN] = Field(None, description="The model's class name in model.py.")
    doc: str | None = Field(None, description="What the model is; becomes the class docstring.")
    extends: Annotated[str | None, _EXTENDS_GIVEN] = Field(
        None, description="A template to instantiate, from the spec library (cnn/ResNet1D) or a relative path."
    )
    with_: dict[str, Any] | None = Field(
        None, alias="with", description="Values for the extended template's parameters."
    )
    params: dict[str, ParamEntry] = Field(default_factory=dict, description="Declared template parameters.")
    let: dict[str, LetEntry] = Field(
        default_factory=dict,
        description="Named values derived from the parameters (`active_tasks: ${...}`), computed once, in order, "
        "and usable anywhere a parameter is.",
    )
    checks: list[CheckSpec] = Field(
        default_factory=list,
        description="Conditions the parameters must meet: `{that: ${...}, message: ..., at: param}`; a failure is "
        "E215 at the user's setting of `at`, with the message.",
    )
    inputs: Annotated[dict[str, InputSpec] | None, _INPUTS_GIVEN] = Field(
        None, description="Tensor inputs with symbolic shapes.")
    blocks: dict[str, BlockSpec] = Field(default_factory=dict, description="Composite blocks local to this file.")
    nodes: Annotated[dict[str, NodeSpec] | None, _NODES_GIVEN] = Field(
        None, description="The nodes, in order; the key is the node name.")
    outputs: Annotated[dict[str, OutputValue] | None, _OUTPUTS_GIVEN] = Field(
        None, description="Output name -> node (or node.port); several outputs make forward return a dict."
    )
    reference: ReferenceSpec | None = Field(
        None, description="The PHM-Vibench model this template reproduces (used by PHM config import and checkpoints)."
    )
    metadata: dict[str, Any] | None = Field(
        None,
        description="Free-form facts kept with the model (e.g. task loss weights, reference key renames); "
        "`${...}` allowed. Emitted as the model class's METADATA attribute.",
    )


# Keys a node takes besides its block's parameters (the spelling users write).
NODE_KEYS = ("block", "in", "repeat", "when", "for_each", "inherit", "with", "checkpoint", "doc")
