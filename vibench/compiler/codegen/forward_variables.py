"""What the writer of ``forward`` knows about the variables of the body it writes.

:class:`Variables` holds the writer's state and the decisions about values and names: how often
each value is read and where it is read last, whether a node may overwrite its input (a fresh
tensor one node reads), and the *chains*: a node whose first input dies there writes its result
into that input's variable (``out = self.bn1(out)``); the chain's variable is a placeholder
(``_vb_chain<k>``) until the body is written, then named after the ``forward`` input it took over,
else after the node whose value it returns, else after its first node. The statements themselves
are :mod:`vibench.compiler.codegen.forward`'s.
"""

from __future__ import annotations

import ast
from collections import Counter
from typing import Any

from vibench.compiler import registry
from vibench.compiler.codegen import code as c
from vibench.compiler.codegen.namer import RESERVED, Namespace
from vibench.compiler.codegen.plan import Slot
from vibench.compiler.codegen.statements import Filler, Method
from vibench.compiler.codegen.structure import Structure
from vibench.compiler.ir import TensorType, ValueRef

CHAIN = "_vb_chain"


class Variables:
    """The state of one ``forward`` being written, and its variables' readers, chains and names."""

    def __init__(self, s: Structure, inplace: bool = True, sizes: dict[tuple[str, str, int], str] | None = None
                 ) -> None:
        self.s = s
        self.inplace = inplace
        self.sizes = sizes or {}
        self.plan = s.representative
        self.unit = self.plan.unit
        self.slots = list(self.plan.slots.values())
        self.names = Namespace(reserved=RESERVED | _natives(s))  # a local never hides a native model.py defines
        self.var: dict[tuple[str, str | None], str] = {}
        self.chains: list[dict[str, Any]] = []
        self.helpers: set[str] = set()  # support functions the body calls
        self.methods: list[Method] = []  # the calls of checkpointed nodes, by name
        self.files: dict[str, str] = {}  # memos of the comments: file -> `name:`, type -> shape, text -> cleaned
        self.file_names: dict[str, str] = {}  # a spec file -> how the comments name it (comments.comment_file_names)
        self.shapes: dict[TensorType, str] = {}
        self.comments: dict[str, str] = {}
        self.by_outputs: dict[tuple[int, str | None], tuple[Any, str]] = {}  # (id(outputs), port) -> shapes
        self.named: dict[tuple[str, str], dict[int, str]] = {}  # (node, port) -> {axis: free parameter}
        for (node, port, axis), name in self.sizes.items():
            self.named.setdefault((node, port), {})[axis] = name
        self.chained: list[ast.Name] = []  # the name nodes of chain variables, named once the chains end
        self.me = c.ref("self")  # one node for every `self.<node>` (no pass changes a name it reads): 10,000 nodes 4 ms
        self.filler = Filler(self.ref)  # a block's call with the body's variables and module in it
        # How many times each value is read (node inputs and unit outputs), counted once: counting per
        # node made emit quadratic (a 1,000-node chain spent 7 s of its 8 s here).
        self.readers: Counter[ValueRef] = Counter(r for s in self.slots for r in s.inputs)
        self.readers.update(r for _, r, _ in self.unit.outputs)

    # -- bookkeeping ----------------------------------------------------------------------------

    def key(self, ref: ValueRef) -> tuple[str, str | None]:
        return (ref.node, ref.port)

    def ref(self, var: str, ctx: ast.expr_context | None = None) -> ast.Name:
        """A variable of the body as a name node. Every variable goes through here: a chain's node is
        remembered, to be given the chain's name in place at the end (walking every line for them
        took a sixth of the time of ``forward``)."""
        node = c.ref(var) if ctx is None else c.ref(var, ctx)
        if var.startswith(CHAIN):
            self.chained.append(node)
        return node

    def last_uses(self) -> dict[tuple[str, str | None], int]:
        last: dict[tuple[str, str | None], int] = {}
        for k, slot in enumerate(self.slots):
            for ref in slot.inputs:
                last[self.key(ref)] = k
        for _, ref, _ in self.unit.outputs:
            last[self.key(ref)] = len(self.slots)
        return last

    def fresh(self, ref: ValueRef, reader: str) -> bool:
        """May node ``reader`` overwrite this value? Only a fresh tensor (see ``Block.fresh_output``) that
        one node reads (a second reader could hold a view of it), made by a node that runs wherever the
        reader runs: every use of the class, or the uses of the reader's own ``when`` (where an optional
        node is off, its "output" is its input)."""
        slot = self.plan.slots.get(ref.node)
        if slot is None or (ref.node in self.s.optional and not self.runs_with(ref.node, reader)):
            return False
        readers = self.readers[ref]
        return bool(
            slot.block is not None
            and slot.kind in ("module", "function")
            and len(slot.node.outputs) == 1
            and slot.block.output_is_fresh(slot.node.outputs[0][1])
            and readers == 1
        )

    def runs_with(self, node: str, reader: str) -> bool:
        """Is optional ``node`` present in every use of the class where ``reader`` is? True where both carry
        the same ``when`` text (evaluated in the same class-level scope, so they are on and off together)."""
        if reader not in self.s.optional:
            return False
        a, b = self.s.optional[node], self.s.optional[reader]
        return type(a) is type(b) and getattr(a, "text", a) == getattr(b, "text", b)

    # -- chains and names -----------------------------------------------------------------------

    def new_chain(self, first: str) -> str:
        self.chains.append({"source": None, "first": first, "last": first})
        return f"{CHAIN}{len(self.chains) - 1}"

    def continue_chain(self, source: ValueRef, node: str) -> str:
        var = self.var[self.key(source)]
        if var.startswith(CHAIN):
            self.chains[int(var[len(CHAIN) :])]["last"] = node
            return var
        if source.node in self.plan.slots:  # a value of a multi-output node: its own name carries on
            return var
        self.chains.append({"source": var, "first": node, "last": node})  # an input of forward dies here
        return f"{CHAIN}{len(self.chains) - 1}"

    def carries(self, slot: Slot, source: ValueRef, ins: list[str]) -> bool:
        """Whether a node's value takes the name of its first input, which dies there (``out =
        self.bn1(out)``). Not where that reads as something it is not: the last of several readers of
        a value (``x = self.value_projection(x)`` beside the query and key projections; the last of
        several heads of shared features), a node that joins values computed here (attention's query,
        key and value; inputs of ``forward`` such as ``fs`` do not count), or a
        tensor of another dtype taking over an input of ``forward`` (float prompts in ``system_id``).
        A sum (or difference, product) keeps its first input's name in every case: ``x = x + attention``,
        ``out += downsample``. The first input's variable is otherwise deleted where it dies, as any other."""
        summed = slot.block is not None and bool(slot.block.augmented)  # `x = x + attention`: the idiom
        if self.readers[source] > 1 and not summed:
            return False
        joined = {(r.node, r.port) for r in slot.inputs if r.node in self.plan.slots}
        if len(joined) > 1 and not summed:
            return False
        if source.node not in self.plan.slots:
            given = dict(self.unit.inputs).get(source.node)
            return given is None or given.dtype == slot.node.outputs[0][1].dtype
        return True

    def same_variable(self, var: str, name: str) -> bool:
        """Whether ``var`` (perhaps a chain, named at the end) will be the variable ``name``."""
        if var == name:
            return True
        return var.startswith(CHAIN) and self.chains[int(var[len(CHAIN) :])]["source"] == name

    def chain_names(self) -> dict[str, str]:
        """A chain's variable: the input it took over (``x = self.conv(x)``); else, for a chain of several
        nodes that a single-output class returns, ``out`` (the value being built: ``out = self.embedding(x)``,
        ``out = self.backbone(out)``, ``return out``; named after its last node it read ``task_head =
        self.embedding(x)``); a returned chain of a class with several outputs, its last node's name (the
        output's: ``return {"logits": classifier, ...}``); else its first node's name."""
        returned = {r.node for _, r, _ in self.unit.outputs}
        single = len(self.unit.outputs) == 1  # several outputs keep their nodes' names (`logits`, `signal`)
        out: dict[str, str] = {}
        for k, chain in enumerate(self.chains):
            if chain["source"] is not None:
                out[f"{CHAIN}{k}"] = chain["source"]
            elif chain["last"] in returned:
                generic = single and chain["first"] != chain["last"]
                out[f"{CHAIN}{k}"] = self.names.take("out" if generic else chain["last"])
            else:
                out[f"{CHAIN}{k}"] = self.names.take(chain["first"])
        return out


def _natives(s: Structure) -> frozenset[str]:
    """The names of the native classes and functions the blocks of a structure's nodes bring into model.py."""
    names: set[str] = set()
    for plan in s.plans:
        for slot in plan.slots.values():
            blocks = [slot.block] + [registry.get(copy.block) for copy in slot.node.copies if copy.block]
            names.update(n if isinstance(n, str) else n.__name__ for b in blocks if b is not None for n in b.natives)
    return frozenset(names)
