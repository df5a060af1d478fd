"""The body of ``forward``: straight-line code in node order, written the way people write it.

* A node whose first input dies there (nothing later reads it) writes its result into that
  input's variable, so a chain of layers reuses one name (``out = self.bn1(out)``) and every
  intermediate is freed as soon as it is dead; other dead intermediates are ``del``-ed.
* Where the dying input is a fresh tensor that autograd does not keep (a convolution's, a norm's,
  a sum's output), activations run in place (``torch.relu_``) and a residual sum is ``out += x``;
  never on an input of ``forward``, a view, or a value read later; nowhere with ``inplace=False``
  (``--no-inplace``: for hooks that keep a layer's output, feature taps and Grad-CAM).
* Each line carries the node's output shape and its spec line as a comment.

Chains are named after the ``forward`` input they start from, else after the node whose value they
return, else after their first node (:mod:`~vibench.compiler.codegen.forward_variables`).
"""

from __future__ import annotations

import ast
import itertools
import os
from collections import Counter
from collections.abc import Callable

from vibench.compiler import plugin_calls
from vibench.compiler.codegen import code as c
from vibench.compiler.codegen.comments import shape_in_every_use, shape_of, type_in
from vibench.compiler.codegen.forward_variables import Variables
from vibench.compiler.codegen.layout import comment_text
from vibench.compiler.codegen.named_sizes import argument_sizes
from vibench.compiler.codegen.plan import IN, MOD, Slot
from vibench.compiler.codegen.statements import Forward, Line, Method, assign_to, fill_markers, without_idle_deletes
from vibench.compiler.codegen.structure import Structure
from vibench.compiler.diagnostics import SpecError
from vibench.compiler.ir import TensorType, ValueRef
from vibench.compiler.keyed import returned_by_key
from vibench.compiler.plugin_calls import PluginFailure, is_plugin


def forward(
    s: Structure,
    prologue: Callable[[dict[str, str]], list[Line]] | None = None,
    inplace: bool = True,
    sizes: dict[tuple[str, str, int], str] | None = None,
    file_names: dict[str, str] | None = None,
) -> Forward:
    """The forward of a structure; ``prologue`` gives statements to run first (given the input variables).
    ``inplace=False`` (``--no-inplace``) writes every result to a new tensor: a hook sees a layer's output as
    it left the layer (no later ``torch.relu_`` or ``+=`` changes it), at the memory in-place work saves.
    ``sizes``: (node, port, axis) -> the free parameter that size is, named in the shape comments (the model's
    class: the probes'); a class below it names those its arguments set (:func:`named_sizes.argument_sizes`).
    ``file_names``: how the comments name each spec file (:func:`comment_file_names`; the base name otherwise)."""
    if sizes is None and not s.is_root:
        sizes = argument_sizes(s)
    writer = _Writer(s, inplace, sizes)
    writer.file_names = file_names or {}
    return writer.write(prologue)


class _Writer(Variables):
    """Writes the body statement by statement; :class:`Variables` keeps track of the values and their names."""

    # -- the body -------------------------------------------------------------------------------

    def write(self, prologue: Callable[[dict[str, str]], list[Line]] | None) -> Forward:
        args = []
        for name, _ in self.unit.inputs:
            var = self.names.take(name)
            self.var[(name, None)] = var
            args.append((var, "torch.Tensor"))
        last = self.last_uses()
        live = _Live(last, self.var)
        lines: list[Line] = prologue({n: self.var[(n, None)] for n, _ in self.unit.inputs}) if prologue else []
        for k, slot in enumerate(self.slots):
            made = self.statement(k, slot, last)
            if slot.name in self.s.optional and not slot.ctors and made:  # a line only some uses of the class run
                made = [Line(ast.If(test=c.attr(c.ref("self"), f"with_{slot.name}"), body=[], orelse=[]), "", made)]
            lines += made
            live.advance(k)
            dead = [
                self.var[self.key(r)]
                for r in dict.fromkeys(slot.inputs)
                if last.get(self.key(r)) == k and r.node in self.plan.slots
            ]
            if dead:
                produced = {self.var.get((slot.name, p)) for p, _ in slot.node.outputs}
                produced.add(self.var.get((slot.name, None)))
                dead = [d for d in dict.fromkeys(dead) if d not in produced and not live.holds(d) and d != "_"]
            if dead and k + 1 < len(self.slots):
                lines.append(Line(ast.Delete(targets=[self.ref(d, ast.Del()) for d in dead])))
        lines = without_idle_deletes(lines)
        lines.append(self.returning())
        names = self.chain_names()
        for chained in self.chained:  # the name nodes of chain variables get their chain's name
            chained.id = names[chained.id]
        return Forward(args, self.return_annotation(), lines, self.helpers, self.methods)

    def statement(self, k: int, slot: Slot, last: dict[tuple[str, str | None], int]) -> list[Line]:
        node = slot.node
        ins = [self.var[(r.node, r.port)] for r in slot.inputs]
        attr = c.attr(self.me, slot.name)
        kind = slot.kind
        if kind == "parallel":  # a line per copy, each commented with its own port's shape (none with every port's)
            out: list[Line] = []
            saved: list[Line] = []
            whole = ValueRef(slot.name, None)
            for j, (port, _) in enumerate(node.outputs):
                target = self.names.take(f"{slot.name}_{port}")
                self.var[(slot.name, port)] = target
                # copies whose calls differ (in their arguments, or a `dim` read from `item`) have their own
                call = slot.chain[j] if slot.chain else slot.call
                mod = c.index(attr, j) if slot.ctors else attr
                value = self.fill(call, ins, mod)
                read = self.readers[ValueRef(slot.name, port)] > 0 or (j == 0 and self.readers[whole] > 0)
                out.append(Line(self.store(target, value, read), self.comment(slot, port)))
                if node.checkpoint:
                    saved.append(Line(self.store(target, self.checkpointed(slot, call, ins, mod), read)))
            return self.saving(out, saved) if node.checkpoint else out
        comment = self.comment(slot)
        ports = [p for p, _ in node.outputs]
        if len(ports) > 1:
            targets: list[ast.expr] = []
            for port in ports:
                if self.readers[ValueRef(slot.name, port)]:
                    name = self.names.take(f"{slot.name}_{port}" if port != ports[0] else slot.name)
                    self.var[(slot.name, port)] = name
                    targets.append(self.ref(name))
                else:
                    targets.append(c.ref("_"))
            value = self.fill(slot.call, ins, attr)
            unpacked = _unpack(slot, targets)
            unpacking = [Line(assign_to(unpacked, value), comment)]
            if node.checkpoint:
                saved = [Line(assign_to(c.clone(unpacked), self.checkpointed(slot, slot.call, ins, attr, True)))]
                return self.saving(unpacking, saved)
            return unpacking
        source = slot.inputs[0] if slot.inputs else None
        dies = source is not None and last.get(self.key(source)) == k and ins.count(ins[0]) == 1 and ins[0] != "_"
        fresh = self.inplace and dies and source is not None and self.fresh(source, slot.name)
        carry = dies and source is not None and (fresh and slot.inplace is not None or self.carries(slot, source, ins))
        target = self.continue_chain(source, slot.name) if carry and source is not None else self.new_chain(slot.name)
        self.var[(slot.name, ports[0])] = target
        self.var[(slot.name, None)] = target
        if kind == "chain":
            lines = []
            current = ins[0]
            saved = []
            for j, call in enumerate(slot.chain):
                mod = c.index(attr, j) if slot.ctors else attr
                lines.append(
                    Line(
                        self.assign(target, self.fill(call, [current], mod)),
                        comment if j == len(slot.chain) - 1 else "",
                    )
                )
                if node.checkpoint:
                    saved.append(Line(self.assign(target, self.checkpointed(slot, call, [current], mod))))
                current = target
            return self.saving(lines, saved) if node.checkpoint else lines
        if kind == "repeat" and not slot.plain and slot.node.kind != "composite":
            step = [Line(self.assign(target, self.fill(slot.call, [target], c.ref("layer"))))]
            if node.checkpoint:
                saved = [Line(self.assign(target, self.checkpointed(slot, slot.call, [target], c.ref("layer"))))]
                step = self.saving(step, saved)
            loop = Line(ast.For(target=c.ref("layer"), iter=attr, body=[], orelse=[]), comment, step)
            head = [] if target == ins[0] else [Line(self.assign(target, self.ref(ins[0])))]
            return head + [loop]
        block = slot.block
        fresh = fresh and not node.checkpoint  # a checkpointed node runs through _checkpoint, not in place
        if (
            fresh
            and block is not None
            and block.augmented
            and len(ins) == 2
            and ins[1] != ins[0]
            and self.keeps_shape(slot)
        ):
            op = {"+": ast.Add(), "-": ast.Sub(), "*": ast.Mult()}[block.augmented]
            stmt: ast.stmt = ast.AugAssign(target=self.ref(target, ast.Store()), op=op, value=self.ref(ins[1]))
            return [Line(stmt, comment, in_place=True)]
        if fresh and slot.inplace is not None:
            idle = not block.inplace_allocates if block is not None else False
            return [Line(self.assign(target, self.fill(slot.inplace, ins, attr)), comment, in_place=idle)]
        if slot.plain:  # module(input)
            value = ast.Call(attr, [self.ref(ins[0])], [])  # (fields by position: see code.ref)
        else:
            value = self.fill(slot.call, ins, attr)
            if isinstance(value, ast.Name) and self.same_variable(target, value.id):
                return []  # the value is its input (a pad of width 0), which this variable already holds
        plain = Line(self.assign(target, value), comment)
        if node.checkpoint:
            call = slot.call if not slot.plain else ast.Call(func=c.ref(MOD), args=[c.ref(f"{IN}0")], keywords=[])
            return self.saving([plain], [Line(self.assign(target, self.checkpointed(slot, call, ins, attr)))])
        return [plain]

    def checkpointed(self, slot: Slot, call: ast.expr, ins: list[str], mod: ast.expr, multiple: bool = False
                     ) -> ast.expr:
        """A node's call through ``_checkpoint`` (``checkpoint: true``): ``_checkpoint(self.layer, x)`` for a
        plain ``module(x)``, else with the call as a method of the module and the distinct inputs (no lambda:
        TorchScript cannot read one anywhere in ``forward``), so that the recomputation in the backward pass
        calls the module (a loop's ``layer`` too) the forward pass called."""
        self.helpers.add("_checkpoint")
        distinct = list(dict.fromkeys(ins))
        args = [self.ref(v) for v in distinct]
        if (
            isinstance(call, ast.Call)
            and isinstance(call.func, ast.Name)
            and call.func.id == MOD
            and not call.keywords
            and [a.id if isinstance(a, ast.Name) else None for a in call.args] == [f"{IN}{k}" for k in range(len(ins))]
            and len(distinct) == len(ins)
        ):
            return c.call("_checkpoint", mod, *args)
        if isinstance(call, ast.IfExp) and ast.unparse(call.test) == "torch.jit.is_scripting()":
            call = call.orelse  # the call runs through _checkpoint only where TorchScript does not compile it
        params = ["x"] if len(distinct) == 1 else [f"x{k}" for k in range(len(distinct))]
        body = fill_markers(call, [params[distinct.index(v)] for v in ins], c.ref("module"), c.ref)
        # Spec names never start with `_`: no attribute is called so. Copies whose calls differ get one each.
        same = [m for m in self.methods if m.name.startswith(f"_call_{slot.name}")]
        found = next((m for m in same if m.params == params and ast.dump(m.body) == ast.dump(body)), None)
        name = found.name if found else f"_call_{slot.name}" + (f"_{len(same)}" if same else "")
        if found is None:
            self.methods.append(Method(name, params, body, multiple))
        return c.call("_checkpoint", mod, *args, call=c.attr(c.ref("self"), name))

    def saving(self, plain: list[Line], saved: list[Line]) -> list[Line]:
        """The lines of a checkpointed node: plain under TorchScript, else through ``_checkpoint``."""
        return [Line(ast.If(test=c.call("torch.jit.is_scripting"), body=[], orelse=[]), "", plain, orelse=saved)]

    def keeps_shape(self, slot: Slot) -> bool:
        """``a op= b`` writes into ``a``: only when the result has ``a``'s shape in every use (a
        broadcast ``[B, 1, D] + [B, L, D]`` cannot be written into its first input)."""
        for plan in self.s.plans:
            mine = plan.slots.get(slot.name)
            if mine is None:
                continue
            source = mine.inputs[0]
            produced = (
                plan.slots[source.node].node.output(source.port)
                if source.node in plan.slots
                else dict(plan.unit.inputs)[source.node]
            )
            if (
                tuple(produced.shape) != tuple(mine.node.outputs[0][1].shape)
                or produced.dtype != mine.node.outputs[0][1].dtype
            ):
                return False
        return True

    def fill(self, tree: ast.expr, ins: list[str], mod: ast.expr) -> ast.expr:
        return self.filler(tree, ins, mod)

    def assign(self, var: str, value: ast.expr) -> ast.stmt:
        return assign_to(self.ref(var, ast.Store()), value)

    def store(self, var: str, value: ast.expr, read: bool) -> ast.stmt:
        """``var = value``, or the bare call where nothing reads the value (a `for_each` copy no node reads)."""
        return self.assign(var, value) if read else ast.Expr(value=value)

    # -- return and comments --------------------------------------------------------------------

    def returning(self) -> Line:
        outs = [(name, self.var[self.key(ref)]) for name, ref, _ in self.unit.outputs]
        if self._returns_dict():
            return Line(ast.Return(value=c.const({name: self.ref(var) for name, var in outs})))
        if len(outs) == 1:
            return Line(ast.Return(value=self.ref(outs[0][1])))
        return Line(ast.Return(value=c.tuple_of(*[self.ref(v) for _, v in outs])))

    def _is_root(self) -> bool:
        return self.s.is_root

    def _returns_dict(self) -> bool:
        """The model returns a dict by output name: for several outputs, and for the one copy of a `for_each`
        over a mapping that ``{from: node.*}`` returns (a multi-task model with one task returns its dict too)."""
        return self._is_root() and (len(self.unit.outputs) > 1 or returned_by_key(self.unit))

    def return_annotation(self) -> str:
        n = len(self.unit.outputs)
        if self._returns_dict():
            return "dict[str, torch.Tensor]"
        if n == 1:
            return "torch.Tensor"
        return "tuple[" + ", ".join(["torch.Tensor"] * n) + "]"

    def comment(self, slot: Slot, port: str | None = None) -> str:
        if len(self.s.plans) == 1 and not self.named and not slot.node.parallel:  # the shapes written once per
            # outputs, which nodes share (4 in a 10,000-node chain: its comments 21 -> 8 ms); the outputs held, so that
            # their id stays theirs (a parallel node's are made anew at each call, one per copy)
            outputs = slot.node.outputs
            known = self.by_outputs.get((id(outputs), port))
            if known is None:
                known = self.by_outputs[(id(outputs), port)] = (outputs, self.shapes_text(slot, port))
            text = known[1]
        else:
            text = self.shapes_text(slot, port)
        pos = slot.node.pos
        if pos is not None:
            # The same text as comment_text(f"{file}:{line}"): the digits after the colon hold no space or
            # character it changes, so they only lengthen its last word.
            text += "  " + self.where(pos.file) + str(pos.line)
        return text

    def shapes_text(self, slot: Slot, port: str | None) -> str:
        """The comment's shapes of a node's outputs (of ``port`` alone when given), cleaned."""
        shapes = []
        if port is None:
            chosen = list(slot.node.outputs)
        else:  # (by its port: a for_each of n copies has n, each written on a line of its own)
            found = slot.node.find_output(port)
            chosen = [] if found is None else [(port, found)]
        one_use = len(self.s.plans) == 1
        for p, t in chosen:
            named = self.named.get((slot.name, p))
            if one_use or named and self.alike(slot.name, p, t, named):
                text = self.shape(t, named)
            else:
                text = shape_in_every_use(self.s, slot.name, p)
            shapes.append(text if len(chosen) == 1 else f"{p}: {text}")
        return self.cleaned(", ".join(shapes))

    def alike(self, name: str, port: str, t: TensorType, named: dict[int, str]) -> bool:
        """Whether value ``name.port`` has type ``t`` in every use of the class but at the ``named`` axes (an
        argument's size, true in each use): then ``t`` with those names is its shape in every use."""
        for plan in self.s.plans:
            other = type_in(self.s, plan, name, port)
            if other is not None and (other.dtype != t.dtype or len(other.shape) != len(t.shape) or any(
                    k not in named and d != e for k, (d, e) in enumerate(zip(other.shape, t.shape, strict=True)))):
                return False
        return True

    def shape(self, t: TensorType, named: dict[int, str] | None) -> str:
        """``shape_of(t)``, once per type (the nodes of a chain mostly share a few shapes). Equal types
        write alike: a size is an int or an ``Expr``, equal only to one of the same canonical form."""
        if named:
            return shape_of(t, named)
        if t not in self.shapes:
            self.shapes[t] = shape_of(t)
        return self.shapes[t]

    def cleaned(self, text: str) -> str:
        """``comment_text(text)``, once per distinct text."""
        if text not in self.comments:
            self.comments[text] = comment_text(text)
        return self.comments[text]

    def where(self, path: str) -> str:
        """The start of a node's place in its comment, ``file:`` (cleaned), once per file (every node of a
        spec comes from one or a few), as :func:`comment_file_names` names it."""
        if path not in self.files:
            self.files[path] = comment_text(f"{self.file_names.get(path, os.path.basename(path))}:")
        return self.files[path]


class _Live:
    """The variables that hold a value still read after node ``k``, kept up to date as the body is
    written (recomputing the set per node made a 1,000-node emit quadratic).

    A value is live after node ``k`` when it has a variable by then and its last use is later."""

    def __init__(self, last: dict[tuple[str, str | None], int], var: dict[tuple[str, str | None], str]) -> None:
        self.last = last
        self.var = var  # filled in as nodes are written; a key is never reassigned
        self.seen = 0
        self.count: Counter[str] = Counter()
        self.expiring: dict[int, list[str]] = {}

    def advance(self, k: int) -> None:
        """Take in the variables made up to node ``k`` and drop the values whose last use is ``k``."""
        new = len(self.var) - self.seen
        self.seen = len(self.var)
        for key in itertools.islice(reversed(self.var), new):
            end = self.last.get(key)
            if end is not None and end > k:
                name = self.var[key]
                self.count[name] += 1
                self.expiring.setdefault(end, []).append(name)
        for name in self.expiring.pop(k, ()):
            self.count[name] -= 1

    def holds(self, name: str) -> bool:
        return self.count[name] > 0


def _unpack(slot: Slot, targets: list[ast.expr]) -> ast.expr:
    """The assignment target of a node of several outputs (a plug-in block's checked: E114 at the node)."""
    block = slot.block
    if block is None:
        return c.tuple_of(*targets)
    if not is_plugin(block):
        return block.unpack(targets)
    names = frozenset(t.id for t in targets if isinstance(t, ast.Name))
    try:
        return plugin_calls.code(block, "unpack", targets, targets=names)
    except PluginFailure as failure:
        raise SpecError([failure.diagnostic(slot.node.pos, slot.node.name)]) from None
