"""The resource limits of one compilation, in one place.

Specs may come from untrusted sources (a shared config, a model zoo), so every pass is bounded and
reports a located error instead of hanging or exhausting memory. The limits a user may need to
raise are options (``max_nodes``, ``max_params``, ``max_activation`` of :func:`vibench.check` /
``build``, and ``--max-nodes`` / ``--max-params`` / ``--max-activation`` of ``vibench-compile``); the
others are fixed:

==========================  ============================================================  =====
limit                       default                                                       code
==========================  ============================================================  =====
spec file                   regular files only, at most 16 MiB read (``load.MAX_BYTES``)   E004, E002
spec files together         64 MiB read, 2,000 files and 4,000,000 values in one          E002
                            compilation (:data:`MAX_SOURCE_BYTES`,
                            :data:`MAX_SOURCE_FILES`, :data:`MAX_SOURCE_VALUES`): the
                            spec, templates, files that `block:` names, base configs,
                            slot components; a file used again is read once, counts once
PHM-Vibench config          1,000 `base_configs` entries                                  E002
YAML document               64 levels deep, 2,000,000 values; aliases add at most          E002
                            100,000 values or ten times what the file writes out;
                            integers up to 2**62 in magnitude (E001)
``--set`` value / API       10,000 characters (CLI), 64 levels, 100,000 values,            usage, E202
parameter                   integers up to 2**62
API ``inputs`` entry        :data:`MAX_INPUT_SIZES` sizes (1,000)                          ValueError
dimensions of a tensor      :data:`MAX_RANK` (64): an input's shape (E212), what a         E212, E114,
                            plug-in's ``infer`` returns (E114), a node's output (E309)     E309
expression                  2,000 characters, 100 levels, 100,000 steps, values up to      E203, E204
                            100,000 elements and 2**62; all expressions of a compilation
                            together 10 steps per allowed node, at least 20,000
                            (:data:`MIN_EXPRESSION_STEPS`; 1,000,000 by default)
nodes after expansion       :data:`MAX_NODES` (``repeat``, ``for_each`` and composite      E213
                            bodies counted as the built model will have them, and the
                            modules a block builds per channel, layer or system), each
                            composite body counted at its least before any is built
                            (``node_bounds``); one ``for_each`` at most
                            :data:`MAX_FOR_EACH` copies
parameters                  :data:`MAX_PARAMS` elements per model, the fixed tables the    E307
                            constructor builds included (position tables, graph
                            buffers), checked before any weight exists
activations                 :data:`MAX_ACTIVATION` elements in one node output, or in a     E309
                            tensor a block builds inside (a padded copy of its input),
                            at the smallest input (every size the inputs leave open,
                            such as a batch or a length, at its least, ``--input`` or
                            not), and at most that many more for one more step of an
                            open size
declarations processed      :data:`DECLARATIONS_PER_NODE` (10) per allowed node, at least  E213
                            :data:`MIN_DECLARATIONS` (1,000,000 by default): each use of
                            a composite block counts its parameters, `let` values and
                            checks, each copy of a node that gathers its values again
                            the keys its `with:` gives, a use that binds again a large
                            value (64 items or more) one per 2 of its items
model.py                    :data:`LINES_PER_NODE` (2.5) lines per allowed node, at least  E213
                            :data:`MIN_LINES` (100,000; 250,000 by default), counted
                            from its classes before any line is written
                            (:mod:`~vibench.compiler.codegen.model_lines`): each class's
                            own, a chain of layers written out at each use, docs;
                            the source itself counted before any file is written
nesting                     :data:`MAX_NESTING` levels of composite blocks inside each     E206, E204
                            other, of spec files extending or using each other (E206),
                            and of parameter defaults reading each other (E204)
graph nodes                 4,096 per ``graph_operator`` (its constructor's N x N         E302
                            eigendecomposition)
recurrent layers            1,000 per ``lstm``/``gru`` (torch builds them in quadratic     E104
                            time), each layer and direction counted as a node
symbolic sizes              2,000 terms under a floor division, 64 factors in a product,  E303
                            1,000 terms from a product of two formulas
                            (``symbolic.MAX_EXPR_SIZE``, ``MAX_DEGREE``, ``MAX_TERMS``):
                            bind the size with ``--input``
classes in model.py         a use of a composite is tried against at most 64 classes      --
                            of its key (``codegen.class_keys.MAX_CLASS_TRIES``), then
                            gets a class of its own; a formula for a value that differs
                            between uses reads at most 32 of the names that differ
                            (those its expression reads first) and 32 integer names
                            that do not (``codegen.formula.MAX_FORMULA_NAMES``), else
                            the class takes the value as an argument (a shape comment
                            writes ``?``)
metadata                    1,000,000 characters as model.py writes ``METADATA``          E104
                            (``metadata_bounds``)
diagnostics                 50 printed (then a count), each field 500 characters           --
==========================  ============================================================  =====
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from vibench.compiler.diagnostics import Diagnostic
    from vibench.compiler.ir import Pos

MAX_NODES = 100_000
"""Nodes of a model after expansion: each copy of a `repeat`/`for_each` node counts, and a
composite node counts once plus the nodes of its body. The bodies are counted before they are built, at their
least (:mod:`vibench.compiler.node_bounds`: the `repeat` and `for_each` counts written as numbers), and each is
built within the room the rest of the model leaves: a chain of 16 blocks each using the one below twice with a value
of its own (196,607 nodes, 131,071 distinct bodies) took 33 s and 1.2 GB before the count refused it; it is now
refused at its use, before any body is built. A model within the limit still costs each distinct body it
specialises (n15 of that chain, 98,303 nodes: about 19 s of CPU)."""

MAX_FOR_EACH = 1_000
"""Copies of one `for_each` node (parallel branches side by side)."""

MAX_PARAMS = 2**31
"""Parameter elements of a model (the sum over every weight tensor), plus the elements of the fixed
tables (buffers) its constructor builds from spec values, such as a position table's ``max_len`` rows."""

MAX_ACTIVATION = 2**31
"""Elements of one activation (a node's output tensor, or a tensor a block builds inside its forward: a
`causal_conv1d`'s input padded by ``dilation * (kernel_size - 1)`` steps, a `moving_average`'s padded
series) at the smallest input the model takes: a size the spec fixes (a padding of 10**9) would exhaust
memory when the model runs, long after the compile said yes. Sizes the inputs leave open count at their
least (1 for a batch or a length), also where ``--input`` / ``inputs=`` binds them: the bound measures
what the spec fixes, never the data a user feeds. One more step of an open size (from 1 to 2) may add
at most as many elements: a factor that the spec fixes, such as an upsampling by 10**12 (1 element at
L = 1, 10**12 at L = 2), leaves only the smallest input within the limit, and is refused. The factors of
`conv_transpose1d` have a tighter bound of their own (a kernel that is no multiple of the stride:
out_channels * ceil(kernel_size / stride) * stride**2 * L below 2**31, where torch's CPU kernel overflows)."""

MAX_NESTING = 32
"""Levels of composite blocks used inside each other (a model's class inside its blocks' classes), of
spec files that extend or use each other, and of parameter defaults that read each other (`a` defaults
to `b`, which defaults to `c`...): every pass walks them depth first, and a few hundred levels
exhausted Python's stack (an internal error at 150 nested blocks). The library nests blocks at most 4
levels deep."""

MAX_SOURCE_BYTES = 64 * 1024 * 1024
"""Bytes of spec files one compilation reads, all files together: the spec, the templates it extends,
the files its `block:` references name, a PHM-Vibench config's base configs and the components of its
slot folders. A file used again (400 `base_configs` entries naming one file, a template two nodes use)
is read once per compilation and counts once; each other path counts, so 200 hard links to one 15 MiB
file stop at the fifth. Four files at the 16 MiB limit of one file fit; the shipped library is about 0.25 MiB.
Reading 64 MiB (of comments, which load no values) takes about 0.4 s.
Without it, 200 such links took 18 s and 3.1 GB, and a slot folder of 1,000 of them over a minute."""

MAX_SOURCE_FILES = 2_000
"""Spec files one compilation reads (distinct paths). Bytes do not bound the cost of small files: 10,000
files of 300 bytes, each a `block:` of one node, took 6.1 s to compile (0.6 ms a file), so this allows
about a second of it. A slot folder at its limit (1,000 components) and the whole shipped library (61
files) fit together."""

MAX_SOURCE_VALUES = 4_000_000
"""Values (YAML scalars and collections, aliases expanded; one per 64 characters of a string) in all the
documents one compilation loads: twice what one file may hold (2,000,000), so a file at its own limit
still compiles with its templates. Bytes do not bound this: 3.8 MiB of `[1,1,1,...]` is 2,000,000 values,
3.6 s and 330 MiB to load, and 64 MiB of such files would take a minute. The file that crosses the limit
is loaded before it is counted: block files of 1,900,000 values each stop at the third, after 8 s and
950 MiB (measured). The largest library model, isfm/M_01_ISFM, reads 29 files, 104 KiB, 7,600 values."""

STEPS_PER_NODE = 10
"""Expression steps a compilation may spend per allowed node (see :func:`vibench.compiler.expr.budget`), at least
:data:`MIN_EXPRESSION_STEPS`."""

MIN_EXPRESSION_STEPS = 20_000
"""The fewest expression steps a compilation may spend, however low ``max_nodes`` is. The library's templates spend
up to 21 steps per node (cnn/MobileNet1D: 3,802 for 183 nodes), so ten per allowed node alone refused those above
ten at a ``--max-nodes`` near their node count (MobileNet1D up to 380), at an expression of the template's own. A
lowered ``max_nodes`` bounds the model, not the time its expressions take: that bound is this floor, spent in about
25 ms by 40 `let` values building lists (100,000 steps took 0.2 s, the default 1,000,000 about 1.5 s; measured).
It is the budget that ``--list`` and the settings' trials (:mod:`vibench.compiler.blame`) already give a compile
(2,000 nodes), so neither spends more than it did."""

DECLARATIONS_PER_NODE = 10
"""Declarations a compilation may process per allowed node, at least :data:`MIN_DECLARATIONS`
(:mod:`vibench.compiler.composite_uses`): each use of a composite block (each copy of a `repeat`/`for_each` node
of it) counts the block's parameters, `let:` values and checks, processed again for every use, and each copy of a
node counts the keys its `with:` gives where they are gathered again (copies whose values read no loop variable
share the first copy's: :meth:`~vibench.compiler.node_values.NodeValues.node_values`). The node limit counts the
copies only: a block of 4,000 parameters used by a `for_each` of 1,000 took 21 s and 1.6 GB, one of 400 checks
used 20,000 times over a minute, a `with:` of 10,000 keys gathered for each of 1,000 copies 9 s. Now the first two
stop at the use past the default limit (1,000,000) within 2 s of CPU and 350 MB, and the copies share the `with:`;
the library's models process at most 432 declarations (mlp/DenseNetMLP, 721 nodes), 1.4 per node (measured)."""

MIN_DECLARATIONS = 100_000
"""The fewest declarations a compilation may process, however low ``max_nodes`` is (as
:data:`MIN_EXPRESSION_STEPS` for expressions): far more than any library model processes at its node count."""

LINES_PER_NODE = 2.5
"""Lines model.py may have per allowed node, at least :data:`MIN_LINES`, counted from its classes before any line is
written (no more than it writes: :mod:`vibench.compiler.codegen.model_lines`), and in the source before any file is
written. The node limit bounds the model, not its code: a block whose every use has values of its own is a class per
use, and a chain of layers is written out again at each use, nested as its blocks nest. A chain of 14 blocks each using
the one below twice with a value of its own (49,150 nodes, 16,384 classes) wrote 295,045 lines (24 MB) in 93 s of CPU
and 2 GB; it is now refused at the use that makes the classes, after grouping them (6 s, after the 9 s of `--check`). A
chain of 100,000 layers (the node limit) has 200,000 lines, two a node: the default leaves a model at the node limit a
quarter more for its classes. The library's longest model.py has 1,223 lines (isfm/M_01_ISFM's ensemble); the count from
the classes leaves out what does not grow with the model (the blocks' own classes and helpers, input checks), not the
spec's docs."""

MIN_LINES = 100_000
"""The lines model.py may have however low ``max_nodes`` is: far more than any library model writes."""


MAX_INPUT_SIZES = 1_000
"""Sizes in one entry of the API's ``inputs`` (one per axis of the input): only so many are taken from the
iterable given, so an endless one (``itertools.repeat(1)``) is refused instead of read for ever. No spec's input
has nearly so many axes."""

MAX_RANK = 64
"""Dimensions of one tensor: an input's shape, a shape a plug-in's ``infer`` returns, a node's output (a `reshape`
to many sizes of 1). Torch refuses more in many operations (a dimension list is a 64-bit set: "Only tensors with up
to 64 dims are supported"), and a shape's element count is a product of its sizes: 240 sizes of 10**18 made a
number of 4,321 digits, which Python refused to write in a message (an internal error), and a plug-in's shape of
200,000 symbolic sizes took 55 s to multiply out before it crashed so."""


def check_limit(value: int | None, name: str, default: int) -> int:
    """A limit given by a caller: a positive integer, a numpy one too (None: the default)."""
    import operator

    if value is None:
        return default
    try:
        number = None if isinstance(value, bool) else operator.index(value)
    except TypeError:  # (the ValueError below is raised outside this handler: not chained to it)
        number = None
    if number is None or number < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r:.80}")
    return number


def too_many_input_dims(input_name: str, count: int, pos: Pos | None) -> Diagnostic:
    """E212 of an input whose shape has more than :data:`MAX_RANK` dimensions: said alike of a written list (when
    it is resolved, before its sizes are read) and of a list a `${...}` gives (when it is evaluated)."""
    from vibench.compiler.diagnostics import Diagnostic

    return Diagnostic("E212", f"the shape of input `{input_name}` has too many dimensions", pos,
                      expected=f"at most {MAX_RANK} dimensions", found=f"{count:,} dimensions")
