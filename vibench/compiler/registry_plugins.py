"""The parts of plug-in loading in :mod:`vibench.compiler.registry` that hold no state.

What loading the plug-ins reports (:class:`_Report`: warnings W120, W121 and the notes for an unknown
block) and where a plug-in block comes from (:class:`_Source`: its entry point and distribution); how
the warnings name a plug-in's class, its block and the exception it raised; and which natives are a
plug-in's own and which names model.py already defines (a plug-in native may take none of them), the
imports its natives may not make, and what of an admitted block vibench must be able to read (its texts, its
parameters' JSON Schema). The registry's catalogue and the report of the last load stay in the registry.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from vibench.compiler.plugin_guard import guarded as guarded  # where callers import them from
from vibench.compiler.plugin_guard import interrupts as interrupts

if TYPE_CHECKING:
    from vibench.compiler.blocks.contract import Problem
    from vibench.compiler.diagnostics import Diagnostic



@dataclass
class _Report:
    """What loading the plug-ins said: the warnings, and the notes an unknown block (E110) gets."""

    warnings: list[Diagnostic] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)  # "`name = value` (distribution ...) failed to load (...)"
    refused: dict[str, list[str]] = field(default_factory=dict)  # block name -> why each plug-in's was refused


def _same_class(a: type, b: type) -> bool:
    return a.__qualname__ == b.__qualname__ and a.__module__ == b.__module__


@dataclass(frozen=True)
class _Source:
    """Where a plug-in block comes from: its entry point and distribution."""

    entry_point: str  # "name = module:attr", as entry_points.txt writes it
    distribution: str | None

    def __str__(self) -> str:
        return f"`{self.entry_point}`" + (f" (distribution {self.distribution})" if self.distribution else "")


def _source(ep: Any) -> _Source:
    try:  # reads the distribution's METADATA, which may not decode
        dist = getattr(ep, "dist", None)
        name, version = getattr(dist, "name", None), getattr(dist, "version", None)
    except Exception:  # noqa: BLE001 - the entry point is then named without its distribution
        name = version = None
    distribution = f"{name} {version}" if name and version else name
    return _Source(f"{getattr(ep, 'name', '?')} = {getattr(ep, 'value', '?')}", distribution)


def _plugin_natives(cls: type) -> list[Any]:
    """The natives of a plug-in's class that are its own (not a built-in's reused); none when its
    ``natives`` is no tuple (the contract check then says so)."""
    natives = getattr(cls, "natives", ())
    return [n for n in natives if not isinstance(n, str) and not _is_vibench(n)] if isinstance(natives, tuple) else []


def _model_py_names() -> dict[str, str]:
    """Top-level names every model.py may define besides natives -> what they are."""
    import builtins

    from vibench.compiler.blocks.base import _module_sources
    from vibench.compiler.codegen import reference_loader, support
    from vibench.compiler.codegen.namer import MODULE_NAMES

    names = {name: "a Python builtin" for name in dir(builtins)}
    names |= {name: "a name model.py imports" for name in (*MODULE_NAMES, "re", "OrderedDict")}
    helpers = {**_module_sources(support.__file__), **_module_sources(reference_loader.__file__)}
    return names | {name: "a helper model.py defines" for name in helpers}


def _is_vibench(obj: Any) -> bool:
    return str(getattr(obj, "__module__", "")).split(".")[0] == "vibench"


def _class_name(cls: Any) -> str:
    qualname = getattr(cls, "__qualname__", None)
    if not isinstance(qualname, str):  # (a metaclass's __repr__ is the plug-in's code: never read for nothing)
        qualname = guarded(lambda: repr(cls), lambda _: f"a {type(cls).__name__}")
    return f"{getattr(cls, '__module__', '?')}.{qualname}"


def _name_of(cls: Any) -> str:
    """The block name ``cls`` declares ("" when it declares none)."""
    name = getattr(cls, "name", None)
    return name if isinstance(name, str) else ""


def _shown_block(cls: Any) -> str:
    from vibench.compiler.blocks.contract import shown_name

    name = getattr(cls, "name", None)
    return shown_name(name) if isinstance(name, str) else _class_name(cls)


def _shown_problems(block: Any) -> list[Problem]:
    """What keeps an admitted plug-in block from being described where vibench lists every block (``--blocks``,
    the JSON Schema, the editor's completion and hover): its ``description`` and ``long_description`` are text,
    and its parameters' JSON Schema can be made and written as JSON
    (:func:`~vibench.schemas.block_schema.block_schema_problem`). Read once, when the registry admits the block:
    one that raises there (a property of the plug-in's own) is refused with W121 and costs only itself, where
    it broke the listing of every block."""
    from vibench.compiler.blocks.contract import FIX, Problem, _shown
    from vibench.schemas.block_schema import block_schema_problem

    problems = []
    for attr in ("long_description", "description"):  # (Block's description reads the long one)
        try:
            text = getattr(block, attr)
        except BaseException as err:  # noqa: BLE001 - the plug-in's own property, whatever it raises: W121
            if interrupts(err):  # (its SystemExit is its failure, never vibench's exit; a Ctrl-C stops the run)
                raise
            problems.append(Problem(f"its `{attr}` raised {_exception(err)}", FIX))
            continue
        if not isinstance(text, str):
            problems.append(Problem(f"its `{attr}` is {_shown(text)}, not text", "let the class's docstring describe "
                                    "the block (Block's `description` is its first line), or return a string"))
    try:
        why = block_schema_problem(block)
    except BaseException as err:  # noqa: BLE001 - the plug-in's parameter model (a json_schema_extra function)
        if interrupts(err):
            raise
        why = f"making its parameters' JSON Schema raised {_exception(err)}"
    if why is not None:
        problems.append(Problem(why, "make the parameters' `json_schema_extra` and `examples` plain JSON data "
                                "(no NaN or infinity: a default may be infinite, shown as `.inf`)"))
    return problems


def _exception(err: BaseException) -> str:
    if _malformed_entry_point(err):  # (not "AttributeError: 'NoneType' object has no attribute 'group'")
        return "the entry point is malformed: its value is not `module` or `module:attr`"
    text = guarded(lambda: str(err), lambda _: "")  # (a plug-in's exception whose __str__ fails: named by its type)
    return f"{type(err).__name__}: {text}" if text else type(err).__name__


# --------------------------------------------------------------------------------------------
# where in a plug-in's own files
# --------------------------------------------------------------------------------------------


def _own_files(module: str) -> tuple[str, ...]:
    """Where the plug-in of ``module`` keeps its code: the folders of its top-level package (each ending in
    a path separator), or the file of a top-level module; never vibench's own. Imports nothing."""
    import importlib.util
    import os
    import sys

    top = module.split(".")[0]
    loaded = sys.modules.get(top)
    paths: Any = getattr(loaded, "__path__", None)
    file: Any = getattr(loaded, "__file__", None)
    if loaded is None and top and top != "__main__":
        # A plug-in that failed to import is not in sys.modules; its top-level spec imports nothing (an odd
        # finder on the path, maybe a plug-in's: the plug-in is then not located).
        spec = guarded(lambda: importlib.util.find_spec(top), lambda _: None)
        if spec is not None:
            paths, file = spec.submodule_search_locations, spec.origin

    def located() -> list[str]:
        if paths:  # (a package's __path__ of the plug-in's own making: then not located)
            return [os.path.join(os.path.realpath(p), "") for p in list(paths) if isinstance(p, str)]
        return [os.path.realpath(file)] if isinstance(file, str) and os.path.isfile(file) else []

    places = guarded(located, lambda _: [])
    vibench = os.path.join(os.path.dirname(os.path.dirname(os.path.realpath(__file__))), "")
    return tuple(p for p in places if not p.startswith(vibench))


def _plugin_frame(err: BaseException, module: str) -> tuple[str, int, str] | None:
    """(file, line, source line) of the deepest place in the plug-in's own files (:func:`_own_files` of
    ``module``) that ``err`` was raised through, or the line a SyntaxError of one of those files names;
    None when it came from none of them. vibench's frames and those of other libraries are left out."""
    import linecache
    import os
    import traceback

    own = _own_files(module)
    if not own:
        return None

    def mine(path: Any) -> bool:
        if not isinstance(path, str) or path.startswith("<"):
            return False
        real = os.path.realpath(path)
        return any(real == place or (place.endswith(os.sep) and real.startswith(place)) for place in own)

    def deepest() -> tuple[str, int] | None:
        found: tuple[str, int] | None = None
        for frame, line in traceback.walk_tb(err.__traceback__):
            if line is not None and mine(frame.f_code.co_filename):
                found = (frame.f_code.co_filename, line)
        if isinstance(err, SyntaxError) and mine(err.filename) and isinstance(err.lineno, int):
            found = (str(err.filename), err.lineno)
        return found

    found = guarded(deepest, lambda _: None)  # (an exception of the plug-in's making, of an odd traceback or filename)
    if found is None:
        return None
    text = linecache.getline(found[0], found[1]).strip()
    if not text and isinstance(err, SyntaxError) and isinstance(err.text, str):
        text = err.text.strip()
    return found[0], found[1], text


def _raised_at(err: BaseException, module: str) -> tuple[str, ...]:
    """A note of where in the plug-in's own files ``err`` was raised (``FILE:LINE`` and its source line);
    none when it was raised elsewhere."""
    frame = _plugin_frame(err, module)
    if frame is None:
        return ()
    file, line, text = frame
    shown = text if len(text) <= 120 else text[:117] + "..."
    return (f"raised at {file}:{line}" + (f": `{shown}`" if shown else ""),)


def _malformed_entry_point(err: BaseException) -> bool:
    """Whether ``err`` is what importlib raises loading an entry point whose value it cannot parse (``c = ::::``):
    its pattern matches nothing, and ``EntryPoint.load`` reads ``.group`` of that None."""
    import importlib.metadata
    import os
    import traceback

    if not isinstance(err, AttributeError) or err.obj is not None or err.name != "group":
        return False
    try:
        frames = list(traceback.walk_tb(err.__traceback__))
        return bool(frames) and os.path.realpath(frames[-1][0].f_code.co_filename) == os.path.realpath(
            str(importlib.metadata.__file__))
    except Exception:  # noqa: BLE001 - an odd traceback: then it is not importlib's own
        return False


def _load_hint(err: BaseException, module: str) -> str:
    """W120's hint for an entry point that failed to load: a malformed entry point is fixed in the distribution's
    metadata, a missing dependency is installed, a bug in the plug-in's own code (any other exception) is fixed
    where it was raised."""
    if _malformed_entry_point(err):
        return ("its blocks are unavailable: the distribution's entry point names no module: it must read `name = "
                "module` or `name = module:attr` (as `haar_dwt = vibench_haar.haar`); reinstall a fixed "
                "distribution, or uninstall it")
    top = module.split(".")[0]
    if isinstance(err, ImportError):
        missing = getattr(err, "name", None)
        missing = missing.split(".")[0] if isinstance(missing, str) and missing else None
        if missing is not None and missing == top:
            return ("the entry point names a module its distribution does not hold: reinstall the distribution, "
                    "or uninstall it")
        if missing is not None:
            return (f"its blocks are unavailable: install the module `{missing}` it imports, or uninstall its "
                    "distribution")
        return "its blocks are unavailable: install what it needs, or uninstall its distribution"
    frame = _plugin_frame(err, module)
    where = f" at {frame[0]}:{frame[1]}" if frame is not None else ""
    return (f"its blocks are unavailable: a bug in the plug-in's own code, not a missing dependency: fix the "
            f"plug-in{where} (or report it to its authors), or uninstall its distribution")


def _defined_at(obj: Any) -> str | None:
    """``FILE:LINE`` where a plug-in's class (or function) is defined, or None where that cannot be read."""
    import inspect

    # None with no source (bytecode only, a class made at run time) or an odd class (inspect reads its attributes)
    source = guarded(lambda: (inspect.getsourcefile(obj), *inspect.getsourcelines(obj)), lambda _: None)
    if source is None:
        return None
    file, lines, line = source
    for k, text in enumerate(lines):  # the `class` line, below its decorators
        if text.lstrip().startswith(("class ", "def ", "async def ")):
            line += k
            break
    return f"{file}:{line}" if file else None


# --------------------------------------------------------------------------------------------
# what a native may import
# --------------------------------------------------------------------------------------------

# The modules a native may import inside its methods: torch and Python's standard library (model.py runs
# wherever Python and torch do; `import warnings` or `itertools` inside a method was refused at first).
NATIVE_IMPORTS = frozenset({"torch"}) | frozenset(sys.stdlib_module_names)


def _import_problems(cls: Any) -> list[Problem]:
    """What model.py's copy of a plug-in's natives (their source) would not hold as the plug-in has them: imports
    inside them of a module other than torch and Python's standard library, which would make model.py need that
    module; and a native class changed after its definition (:func:`_changed_attributes`)."""
    from vibench.compiler.blocks.contract import IMPORTS_HINT, Problem

    problems = []
    for native in cls.natives:
        if isinstance(native, str) or _is_vibench(native):
            continue
        for module, file, line in _native_imports(native):
            problems.append(Problem(
                f"its native `{native.__name__}` imports `{module}` (at {file}:{line}), which model.py would then "
                f"need", IMPORTS_HINT))
        changed = _changed_attributes(native) if isinstance(native, type) else None
        if changed:
            where = _defined_at(native)
            problems.append(Problem(
                f"its native class `{native.__name__}` was changed after its definition" + (f" at {where}" if where
                else "") + f": {changed}; model.py copies the definition, without that change", "define every "
                "attribute of the class in its body (not by assigning to or deleting from the class afterwards)"))
    return problems


def _native_imports(native: Any) -> list[tuple[str, str, int]]:
    """(module, file, line) of each import statement inside ``native`` (a plug-in's top-level class or
    function) of a module other than :data:`NATIVE_IMPORTS`: copied into model.py, it would make model.py
    need that module. Reads the native's module file as Python does."""
    import ast
    import sys
    import tokenize

    file = getattr(sys.modules.get(getattr(native, "__module__", "")), "__file__", None)
    if not isinstance(file, str):
        return []
    with tokenize.open(file) as fh:
        tree = ast.parse(fh.read(), file)
    name = getattr(native, "__name__", None)
    found: list[tuple[str, str, int]] = []
    for top in tree.body:
        if isinstance(top, ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef) and top.name == name:
            found = []  # (a name defined twice is the last definition, as Python and model.py have it)
            for node in ast.walk(top):
                modules: list[str] = []
                if not isinstance(node, ast.Import | ast.ImportFrom):
                    continue
                if isinstance(node, ast.Import):
                    modules = [alias.name for alias in node.names]
                else:
                    modules = ["." * node.level + (node.module or "")]
                found += [(m, file, node.lineno) for m in modules
                          if m.startswith(".") or m.split(".")[0] not in NATIVE_IMPORTS]
    return found


# --------------------------------------------------------------------------------------------
# what a native class holds
# --------------------------------------------------------------------------------------------

# What Python itself puts in the namespace of a class statement, never written in its body (3.13 adds
# __firstlineno__ and __static_attributes__; 3.14 keeps annotations as __annotate_func__ and __annotations_cache__;
# generic bases add __orig_bases__, a PEP 695 class __type_params__).
_PYTHON_ADDED = frozenset({
    "__module__", "__qualname__", "__doc__", "__dict__", "__weakref__", "__firstlineno__", "__static_attributes__",
    "__annotations__", "__annotate__", "__annotate_func__", "__annotations_cache__", "__orig_bases__",
    "__type_params__", "__classcell__", "__classdictcell__",
})
_IMPLICIT_METHODS = frozenset({"__new__", "__init_subclass__", "__class_getitem__"})  # a staticmethod or classmethod


def _changed_attributes(native: type) -> str | None:
    """How a plug-in's native class differs from what its class body defines (None: it does not), as a
    W121 reason says it: an attribute the body does not define (``Lam.forward = ...`` below ``class Lam``), a
    method the body defines that is now another object or gone. The body's names are read from its source
    (:func:`~vibench.compiler.blocks.base.native_source`, whose definition model.py copies); a class with
    decorators, a metaclass or a base class's ``__init_subclass__`` is not compared: what those add is theirs,
    and model.py runs them too."""
    import ast
    import types

    from vibench.compiler.blocks.base import native_source
    from vibench.compiler.plugin_checks import class_bindings, mangled

    tree = ast.parse(native_source(native)).body[0]
    if not isinstance(tree, ast.ClassDef) or tree.decorator_list or type(native) is not type \
            or any("__init_subclass__" in vars(base) for base in native.__mro__[1:-1]):
        return None
    bindings = {mangled(name, native.__name__): bound for name, bound in class_bindings(tree).items()}
    held = vars(native)
    for name, value in held.items():
        python_added = name in _PYTHON_ADDED or isinstance(value, types.MemberDescriptorType) \
            or (name == "__hash__" and value is None)  # (a slot's descriptor; no hash beside a body's __eq__)
        if not python_added and name not in bindings:
            return f"it holds `{name}`, which its class body does not define"
    for name, (count, plain_def) in bindings.items():
        if count != 1 or not plain_def:  # a name bound once, by a `def` without decorators: that function is it
            continue
        value = held.get(name)
        if value is None:
            return f"its method `{name}` is gone from the class"
        if name in _IMPLICIT_METHODS and isinstance(value, staticmethod | classmethod):
            value = value.__func__
        own = isinstance(value, types.FunctionType) and value.__qualname__ == f"{native.__qualname__}.{value.__name__}"
        if not (own and mangled(value.__name__, native.__name__) == name):
            return f"its method `{name}` is another object than the one its class body defines"
    return None
