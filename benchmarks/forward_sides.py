"""The two sides of a benchmark case (benchmarks/forward.py): vibench's model and PHM-Vibench's, built
from a :class:`~benchmarks.forward_cases.Case`, each with its constructor and its call on the case's inputs;
the check that both agree before anything is timed, and the training step and no-grad forward that are timed.
"""

from __future__ import annotations

import contextlib
import inspect
import io
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from benchmarks.forward_cases import Case, parity_case

SEED = 20240607
FS = 12000.0
"""Sampling rate of every sample (Hz): the ``fs`` input, the reference's metadata ``Sample_rate``."""


@dataclass
class Side:
    """A model, how to construct another one, and how to run it on the case's inputs."""

    model: Any
    construct: Callable[[], Any]
    forward: Callable[[], dict[str, Any]]
    context: Callable[[], contextlib.AbstractContextManager[Any]] = contextlib.nullcontext


def case_inputs(case: Case) -> dict[str, Any]:
    """The tensors of a case: ``x``, ``fs`` [B], ``system_id`` [B] (system 1), ``target``."""
    import torch

    batch = case.x[0]
    return {"x": torch.randn(case.x, generator=torch.Generator().manual_seed(1)),
            "fs": torch.full((batch,), FS), "system_id": torch.ones(batch, dtype=torch.int64),
            "target": torch.zeros((batch, *case.target[1:]))}


def vibench_text(case: Case, num_classes: dict[str, int] | None) -> str:
    """The spec vibench builds: a PHM-Vibench ``model:`` section, or ``extends:`` an ISFM component."""
    import yaml

    if case.parity:
        from scripts.record_reference_values import vibench_config

        config = vibench_config(parity_case(case))
        if "phm" in config:
            return yaml.safe_dump({"model": config["phm"]}, sort_keys=False)
        return yaml.safe_dump({"vibench": 1, **config}, sort_keys=False)
    if case.component:
        from vibench.compiler.resolve import Library

        library = Library()
        root, _ = library.load(library.find(case.template, None, None), None)
        declared = {p.name for p in root.params}
        params = {k: v for k, v in case.args.items() if k in declared}
        if "num_classes" in declared:
            params["num_classes"] = num_classes
        return yaml.safe_dump({"vibench": 1, "extends": case.template, "with": params}, sort_keys=False)
    kind, name = case.reference.split("/")
    section = {"type": kind, "name": name, **case.args}
    if case.composite:
        section["num_classes"] = num_classes
    return yaml.safe_dump({"model": section}, sort_keys=False)


def vibench_side(case: Case, inputs: dict[str, Any], num_classes: dict[str, int]) -> tuple[Side, dict[str, float]]:
    """vibench's model of the case and the seconds its first (cold) build took (CPU and wall clock)."""
    import vibench

    text = vibench_text(case, num_classes)
    shapes = {"x": tuple(inputs["x"].shape)}

    def construct() -> Any:
        return vibench.build(text=text, inputs=shapes)

    started, wall = time.process_time(), time.perf_counter()
    model = construct()
    cold = {"cpu": time.process_time() - started, "wall": time.perf_counter() - wall}
    # Called as the reference is: the leading inputs by position (a keyword call costs a small model
    # about 2% more, a dict packed and unpacked per call), any input after a gap by name.
    names = list(inspect.signature(model.forward).parameters)
    lead = 0
    while lead < len(names) and names[lead] in inputs:
        lead += 1
    args = [inputs[k] for k in names[:lead]]
    feed = {k: inputs[k] for k in names[lead:] if k in inputs}

    def forward() -> dict[str, Any]:
        out = model(*args, **feed)
        return out if isinstance(out, dict) else {"": out}

    return Side(model, construct, forward), cold


def reference_side(case: Case, ref_dir: str, inputs: dict[str, Any], num_classes: dict[str, int]) -> Side:
    """The reference model of the case (``scripts/reference.py``), its constructor and its call."""
    from argparse import Namespace

    from scripts import reference

    reference.pydeps(ref_dir)  # X_model/MWA_CNN's pytorch_wavelets, and timm
    import scripts.record_reference_values  # noqa: F401 - first: it imports the case tables at its end
    from scripts.reference_cases_isfm import torchvision_stand_in

    # With pydeps on sys.path the real timm is found (B_10_VIBT, which the ISFM composites' package imports):
    # it imports torchvision and PIL, which get inert stand-ins (B_10_VIBT never uses them).
    torchvision_stand_in(os.environ.get("VIBENCH_TIMM", os.path.join(ref_dir, os.pardir, "pydeps")))
    if case.parity:
        return parity_side(case, ref_dir, inputs)
    args = dict(case.args)
    if case.composite:
        files = [(1, FS)] * case.x[0]
        metadata = reference.reference_metadata(ref_dir, files, num_classes)
        model = reference.build_reference_model(ref_dir, case.reference, args, metadata)
        namespace = dict(type="ISFM", name=case.reference.split("/")[1], **args, num_classes=dict(num_classes))
        extra: tuple[Any, ...] = (metadata,)
    else:
        if case.component:
            args["num_classes"] = dict(num_classes)
        model = reference.build_reference_model(ref_dir, case.reference, args)
        namespace, extra = args, (() if case.component else (None,))
    cls = type(model)

    def construct() -> Any:
        # A fresh namespace with fresh lists and dicts (constructors write into them: DeepONet's
        # trunk_layers, M_01's num_classes); one level is all they touch. Under the workarounds:
        # X_model/MWA_CNN's constructor calls .cuda().
        fresh = {k: v.copy() if isinstance(v, (list, dict)) else v for k, v in namespace.items()}
        with reference.workarounds(ref_dir):
            return cls(Namespace(**fresh), *extra)

    with contextlib.redirect_stdout(io.StringIO()) as said:
        construct()
    if said.getvalue():  # a constructor that prints is timed with its output swallowed

        def quiet() -> Any:
            with contextlib.redirect_stdout(io.StringIO()):
                return construct()

        return Side(model, quiet, reference_forward(case, model, inputs), lambda: reference.workarounds(ref_dir))
    return Side(model, construct, reference_forward(case, model, inputs), lambda: reference.workarounds(ref_dir))


def parity_side(case: Case, ref_dir: str, inputs: dict[str, Any]) -> Side:
    """The reference side of a component benchmarked as its value-parity case (see :class:`Case`)."""
    from argparse import Namespace

    from scripts import reference

    cc = parity_case(case)

    def build() -> tuple[Any, Callable[[], dict[str, Any]]]:
        if not hasattr(cc, "setup"):  # a composite: built from its metadata, called as its parity case is
            from scripts.record_reference_values import _isfm

            model, _, forward, _ = _isfm(cc, ref_dir, inputs)
            return model, forward
        if cc.setup is not None:  # it also puts the component's other inputs (fs, system ids, ...) in `inputs`
            model, _, forward = cc.setup(cc, ref_dir, inputs)
            return model, forward
        model = reference.load_reference_class(ref_dir, cc.model)(Namespace(**cc.args), **cc.kwargs)
        x = inputs["x"]
        return model, lambda: {cc.output: model(x)}

    model, forward = build()
    return Side(model, lambda: build()[0], forward, lambda: reference.workarounds(ref_dir))


def reference_forward(case: Case, model: Any, inputs: dict[str, Any]) -> Callable[[], dict[str, Any]]:
    """How the reference runs the case, its outputs named as vibench's (see :class:`Case`)."""
    x, fs, target = inputs["x"], inputs["fs"], inputs["target"]
    batch = x.shape[0]
    shape = tuple(target.shape[1:])
    calls: dict[str, Callable[[], dict[str, Any]]] = {
        "x": lambda: {"": model(x)},
        "isfm": lambda: {"": model.task_head(model.backbone(model.embedding(x, fs)), system_id=[1] * batch)},
        "hse": lambda: {"": model(x, fs)},
        "hse_v2": lambda: {"": model(x, [1] * batch, FS)[0]},
        "tokens": lambda: {"": model(x)},
        "classify": lambda: {"": model(x, system_id=1)},
        "predict": lambda: {"": model(x, shape=shape)},
        "two_heads": lambda: {"logits": model(x, system_id=1, task_id="classification"),
                              "signal": model(x, task_id="prediction", shape=shape)},
        "multi_task": lambda: dict(model(x, system_id=1, task_id="all", original_x=x, shape=shape)),
    }
    return calls[case.call]


# ---------------------------------------------------------------------------------------------
# The check before timing, and the calls that are timed.


def pairs_of(reference: dict[str, Any], ours: dict[str, Any]) -> list[tuple[str, Any, Any]]:
    """(name, reference output, vibench output) for every output of the reference."""
    if len(reference) == 1 and len(ours) == 1:  # one output each, whatever it is called
        (name, value), = reference.items()
        return [(name, value, next(iter(ours.values())))]
    missing = sorted(set(reference) - set(ours))
    if missing:
        raise AssertionError(f"vibench has no output {missing} (it has {sorted(ours)})")
    return [(k, reference[k], ours[k]) for k in reference]


def agreement(ref: Side, ours: Side, inputs: dict[str, Any]) -> dict[str, float]:
    """Largest output and input-gradient differences, eval mode, same seed (raises when they differ)."""
    import torch

    x = inputs["x"]
    found: dict[str, float] = {}
    outputs, grads = [], []
    for side in (ref, ours):
        side.model.eval()
        x.requires_grad_(True)
        x.grad = None
        torch.manual_seed(SEED)
        with side.context():
            out = side.forward()
        loss(out).backward()
        grads.append(x.grad.detach().clone())
        outputs.append({k: v.detach() for k, v in out.items()})
        x.requires_grad_(False)
        x.grad = None
    for name, expected, got in pairs_of(outputs[0], outputs[1]):
        if tuple(got.shape) != tuple(expected.shape):
            raise AssertionError(f"output {name or 0}: shape {tuple(got.shape)} != reference {tuple(expected.shape)}")
        found[f"output {name}".strip()] = _check_close(f"output {name or 0}", got, expected, 1e-4)
    found["input gradient"] = _check_close("input gradient", grads[1], grads[0], 1e-3)
    return found


def _check_close(what: str, got: Any, expected: Any, tolerance: float) -> float:
    scale = max(1.0, float(expected.abs().max()))
    difference = float((got - expected).abs().max()) if got.numel() else 0.0
    if not difference <= tolerance * scale:
        raise AssertionError(f"{what} differs from the reference by {difference:.3g} (allowed {tolerance * scale:.3g})")
    return difference


def loss(outputs: dict[str, Any]) -> Any:
    """The training loss: the mean square of every floating-point output, summed."""
    return sum(v.float().square().mean() for v in outputs.values() if v.is_floating_point())


def train_step(side: Side) -> Callable[[], None]:
    model = side.model

    def step() -> None:
        model.zero_grad(set_to_none=True)
        loss(side.forward()).backward()

    return step


def no_grad(side: Side) -> Callable[[], Any]:
    import torch

    def forward() -> Any:
        with torch.no_grad():
            return side.forward()

    return forward
