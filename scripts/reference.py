"""Load PHM-Vibench's model classes from a checkout of the reference repository, by file path.

The reference (github.com/PHMbench/PHM-Vibench, snapshot ``6fa64c7``) keeps its models in the
package ``src.model_factory``. Importing that package the ordinary way runs every ``__init__.py``
on the way: the data factory, trainers, PyTorch Lightning, wandb and a Transformer package whose
``__init__`` fails (``Transformer_Dummy.py`` imports a missing name). This module instead installs
an import hook for the top-level name ``src`` that

* loads a *module* (``src/model_factory/CNN/ResNet1D.py``) from its file, as usual, and
* replaces every *package* ``__init__`` by an empty stub with the right ``__path__``, except the
  three ISFM component packages, whose stubs bind the component classes that ``M_0x_ISFM`` star-
  imports (what their real ``__init__`` does, minus the components outside the library),

so loading ``CNN/ResNet1D`` executes that one file and nothing else. Third-party packages that the
loaded files import at module level but the measured models never use are replaced, only while a
reference file executes and only when they are not installed, by empty stand-ins
(:data:`STAND_INS`). Install what the models do use with ``make reference`` (einops, pandas;
``requirements-reference.txt``).

    >>> Model = load_reference_class(".reference/PHM-Vibench", "CNN/ResNet1D")   # doctest: +SKIP
    >>> model = build_reference_model(".reference/PHM-Vibench", "CNN/ResNet1D",
    ...                               {"input_dim": 1, "num_classes": 4})          # doctest: +SKIP

Names are ``<type>/<name>`` as in a PHM-Vibench config (``CNN/ResNet1D``, ``ISFM/M_01_ISFM``; class
``Model``) or an ISFM component ``ISFM/<slot>/<class>`` (``ISFM/embedding/E_01_HSE``). How the
factory builds each model from its args: :func:`build_reference_model`.

One checkout per process: the reference's own imports are absolute (``from src.model_factory...``),
so its modules live under the top-level name ``src``.
"""

from __future__ import annotations

import contextlib
import copy
import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import io
import os
import sys
import types
from argparse import Namespace
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

REFERENCE_COMMIT = "6fa64c7"
"""The snapshot the library reproduces (vibench/specs/DEVIATIONS.md, shared/reference/models.md)."""

COMPOSITES = ("M_01_ISFM", "M_02_ISFM", "M_03_ISFM")
"""ISFM composites: built through the reference's own ``model_factory`` with dataset metadata."""

# The ISFM component packages' exports: class name -> module file (without .py). Their real
# __init__s also import E_01_HTFE and E_com_00_PE (unused by the composites).
_PACKAGE_EXPORTS: dict[str, dict[str, str]] = {
    "src.model_factory.ISFM.embedding": {
        "E_01_HSE": "E_01_HSE", "E_02_HSE_v2": "E_02_HSE_rec", "E_03_Patch": "E_03_Patch",
    },
    "src.model_factory.ISFM.backbone": {
        "B_01_basic_transformer": "B_01_basic_transformer", "B_03_FITS": "B_03_FITS", "B_04_Dlinear": "B_04_Dlinear",
        "B_05_Mamba": "B_05_Mamba", "B_06_TimesNet": "B_06_TimesNet", "B_07_TSMixer": "B_07_TSMixer",
        "B_08_PatchTST": "B_08_PatchTST", "B_09_FNO": "B_09_FNO", "B_10_VIBT": "B_10_VIBT",
        "B_11_MomentumEncoder": "B_11_MomentumEncoder",
    },
    "src.model_factory.ISFM.task_head": {
        "H_01_Linear_cla": "H_01_Linear_cla", "H_02_distance_cla": "H_02_distance_cla",
        "H_03_Linear_pred": "H_03_Linear_pred", "H_04_VIB_pred": "H_04_VIB_pred",
        "H_09_multiple_task": "H_09_multiple_task", "MultiTaskHead": "multi_task_head",
        "H_05_RUL_pred": "H_05_RUL_pred", "H_06_Anomaly_det": "H_06_Anomaly_det",
        "H_10_ProjectionHead": "H_10_ProjectionHead",
    },
}

STAND_INS: dict[str, dict[str, Any]] = {
    # src/utils/utils.py (get_num_classes, which the factory and M_0x_ISFM call) imports Lightning.
    "pytorch_lightning": {"LightningModule": type("LightningModule", (), {}), "Trainer": type("Trainer", (), {})},
    "pytorch_lightning.callbacks": {"ModelCheckpoint": type("ModelCheckpoint", (), {})},
    # ISFM/layers/SelfAttention_Family.py (B_08_PatchTST's attention) imports it for a Reformer layer.
    "reformer_pytorch": {"LSHSelfAttention": type("LSHSelfAttention", (), {})},
    # B_10_VIBT (not in the library) is star-imported by M_02_ISFM.
    "timm": {}, "timm.models": {},
    "timm.models.vision_transformer": {"Mlp": type("Mlp", (), {}), "Attention": type("Attention", (), {})},
    # X_model: MWA_CNN imports ptwt (unused; it runs pytorch_wavelets), TSPN imports scipy.optimize and its
    # Feature_extract sympy (both unused).
    "ptwt": {},
    "scipy": {"optimize": types.ModuleType("scipy.optimize")},
    "scipy.optimize": {},
    "sympy": {}, "sympy.abc": {"x": None},
}
"""Module-level imports of the loaded files that no library model uses: stand-ins while a reference
file executes, and only for packages that are not installed."""

_PACKAGE_ATTRIBUTES: dict[str, dict[str, Any]] = {
    # Transformer/Transformer_Dummy.py imports this decorator, which the package never defined (why the
    # reference's Transformer package fails to import): an identity decorator lets the file load.
    "src.model_factory": {"register_model": lambda *names: (lambda cls: cls)},
}
"""Names that reference files import from a package whose real ``__init__`` lacks them."""

_OPTIONAL = ("wandb", "swanlab")
"""Imported by src/utils/utils.py inside ``try/except ImportError``; kept out while it loads."""

_installed: str | None = None


def pydeps(ref_dir: str | os.PathLike[str]) -> None:
    """Put the folder with the reference's extra packages (X_model/MWA_CNN's pytorch_wavelets and PyWavelets,
    which ``make reference`` installs beside the checkout) on sys.path: ``VIBENCH_PYDEPS``, else
    ``<ref_dir>/../pydeps``."""
    folder = os.environ.get("VIBENCH_PYDEPS") or os.path.join(ref_dir, os.pardir, "pydeps")
    if os.path.isdir(folder) and folder not in sys.path:
        sys.path.insert(0, folder)


def load_reference_class(ref_dir: str | os.PathLike[str], name: str) -> type:
    """The reference class ``name`` (``CNN/ResNet1D``, ``ISFM/M_01_ISFM``, ``ISFM/embedding/E_01_HSE``)."""
    module_name, attribute = _locate(name)
    module = reference_module(ref_dir, module_name)
    try:
        return getattr(module, attribute)  # type: ignore[no-any-return]
    except AttributeError:
        raise LookupError(f"{module.__file__} defines no `{attribute}` (asked for {name!r})") from None


def reference_module(ref_dir: str | os.PathLike[str], module_name: str) -> types.ModuleType:
    """Import ``module_name`` (``src.model_factory.CNN.ResNet1D``) from the checkout ``ref_dir``."""
    _install(ref_dir)
    with _stand_ins(), contextlib.redirect_stdout(io.StringIO()):
        return importlib.import_module(module_name)


def reference_metadata(ref_dir: str | os.PathLike[str], files: Sequence[tuple[int, float]],
                       num_classes: Mapping[str | int, int], channels: Mapping[str | int, int] | None = None) -> Any:
    """Dataset metadata as PHM-Vibench's ``MetadataAccessor`` serves it to the factory and ``M_0x_ISFM``.

    ``files[i] = (Dataset_id, Sample_rate)`` is file id ``i`` (what a batch's ``file_id`` lists);
    ``num_classes`` gives each dataset's class count, which the factory reads back as
    ``max(Label) + 1`` (extra rows, ids from 10,000, carry the labels). Every file has one channel
    per the column ``Channel`` set to 1 unless ``channels`` of that dataset differs (see
    :func:`reference_metadata_frame`).
    """
    return _accessor(ref_dir, reference_metadata_frame(files, num_classes))


def reference_metadata_frame(files: Sequence[tuple[int, float]], num_classes: Mapping[str | int, int],
                             channels: Mapping[str | int, int] | None = None) -> Any:
    """The metadata table (a pandas DataFrame: Id, Name, Dataset_id, Label, Sample_rate, Channel).

    Like PHM-Vibench's metadata it has a text column (``Name``): a row then comes back from
    ``MetadataAccessor`` with its integers intact (an all-numeric row would turn ``Dataset_id`` into
    a float, which M_03_ISFM's head lookup rejects).
    """
    import pandas as pd

    channels = {str(k): v for k, v in (channels or {}).items()}
    rows = [{"Id": i, "Name": f"file_{i}", "Dataset_id": int(ds), "Label": 0, "Sample_rate": float(fs),
             "Channel": channels.get(str(ds), 1)} for i, (ds, fs) in enumerate(files)]
    for k, (ds, count) in enumerate(sorted((int(d), n) for d, n in num_classes.items())):
        rows.append({"Id": 10_000 + k, "Name": f"labels_{ds}", "Dataset_id": ds, "Label": count - 1,
                     "Sample_rate": 1.0, "Channel": channels.get(str(ds), 1)})
    return pd.DataFrame(rows)


def _accessor(ref_dir: str | os.PathLike[str], frame: Any) -> Any:
    accessor = reference_module(ref_dir, "src.data_factory.data_utils").MetadataAccessor
    return accessor(frame, key_column="Id")


def build_reference_model(ref_dir: str | os.PathLike[str], name: str, args: Mapping[str, Any],
                          metadata: Any = None) -> Any:
    """Build reference model ``name`` from a flat ``model:`` section ``args``, as PHM-Vibench does.

    * ISFM composites (``ISFM/M_01_ISFM`` ...) go through the reference's own
      ``model_factory(Namespace(type, name, **args), metadata)``: it overwrites ``num_classes`` with
      ``{str(Dataset_id): max(Label) + 1}`` from ``metadata`` (a :func:`reference_metadata`; default:
      one dataset, id 1, with ``args["num_classes"]`` classes, 10 if unset) and the composite
      builds its three components from the same namespace.
    * Every other model is ``Model(Namespace(**args), metadata)``: the factory cannot build the
      CNN/RNN/Transformer/MLP classifiers (it turns ``num_classes`` into a dict, which their
      ``nn.Linear`` rejects; the Transformer package fails at import), so the reference's own
      measurements instantiate them directly, with the integer ``num_classes`` of ``args``.
    * A component (``ISFM/<slot>/<class>``) is ``cls(Namespace(**args))``.

    ``args`` is deep-copied first (DeepONet rewrites its ``trunk_layers`` list in place).
    """
    args = copy.deepcopy(dict(args))
    parts = name.split("/")
    if len(parts) == 2 and parts[0] == "ISFM" and parts[1] in COMPOSITES:
        if metadata is None:
            count = args.get("num_classes")
            metadata = reference_metadata(ref_dir, [(1, 1.0)], {1: count if isinstance(count, int) else 10})
        factory = reference_module(ref_dir, "src.model_factory.model_factory")
        namespace = Namespace(type=parts[0], name=parts[1], **args)
        with _stand_ins(), contextlib.redirect_stdout(io.StringIO()):
            return factory.model_factory(namespace, metadata)
    cls = load_reference_class(ref_dir, name)
    if len(parts) == 3:
        return cls(Namespace(**args))
    with workarounds(ref_dir):  # X_model/MWA_CNN calls .cuda() while it is built
        return cls(Namespace(**args), metadata)


@contextlib.contextmanager
def workarounds(ref_dir: str | os.PathLike[str]) -> Iterator[None]:
    """Run reference forwards that cannot run as written, changing nothing they compute.

    * ``B_05_Mamba`` calls ``torch.einsum(a, b, "b l d, d n -> b l d n")`` — einops' argument order
      and axis names, which torch rejects, so every forward fails. Its file imports einops and
      comments out ``from einops import einsum``; inside this block the module's ``einsum`` is
      einops', as evidently intended.
    * ``Transformer/Autoformer``'s eval path moves an index tensor with ``.cuda()``; without a GPU,
      inside this block ``Tensor.cuda`` returns the tensor on its own device (also TSPN's Laplace
      neural operator), and ``Module.cuda`` the module (X_model/MWA_CNN moves its wavelet transforms
      to the GPU while it is built: build it inside this block).
    """
    import einops
    import torch

    _install(ref_dir)
    saved: list[tuple[Any, str, Any]] = []
    mamba = sys.modules.get("src.model_factory.ISFM.backbone.B_05_Mamba")
    if mamba is not None:
        saved.append((mamba, "einsum", mamba.einsum))
        mamba.einsum = einops.einsum  # type: ignore[attr-defined]
    if not torch.cuda.is_available():
        saved.append((torch.Tensor, "cuda", torch.Tensor.cuda))
        torch.Tensor.cuda = lambda self, *args, **kwargs: self  # type: ignore[method-assign]
        saved.append((torch.nn.Module, "cuda", torch.nn.Module.cuda))
        torch.nn.Module.cuda = lambda self, *args, **kwargs: self  # type: ignore[method-assign]
    try:
        yield
    finally:
        for owner, attribute, value in reversed(saved):
            setattr(owner, attribute, value)


def reference_commit(ref_dir: str | os.PathLike[str]) -> str | None:
    """The checkout's HEAD commit (40 hex digits), or None when ``ref_dir`` is not a git work tree."""
    import subprocess

    try:  # the checkout's own commit: a copy without .git inside this repository would report vibench's HEAD
        out = subprocess.run(["git", "-C", os.fspath(ref_dir), "rev-parse", "--show-toplevel", "HEAD"],
                             capture_output=True, text=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        return None
    lines = out.stdout.splitlines()
    if len(lines) != 2 or os.path.realpath(lines[0]) != os.path.realpath(ref_dir):
        return None
    return lines[1].strip() or None


def check_checkout(ref_dir: str | os.PathLike[str]) -> str:
    """Raise unless ``ref_dir`` holds PHM-Vibench's ``src/model_factory``; return a one-line summary."""
    root = os.path.abspath(os.fspath(ref_dir))
    if not os.path.isfile(os.path.join(root, "src", "model_factory", "model_factory.py")):
        raise FileNotFoundError(
            f"{root} is not a PHM-Vibench checkout (no src/model_factory/model_factory.py); clone "
            f"https://github.com/PHMbench/PHM-Vibench there and check out {REFERENCE_COMMIT}"
        )
    commit = reference_commit(root)
    if commit is None:
        return f"{root}: PHM-Vibench (commit unknown, expected {REFERENCE_COMMIT})"
    state = "as expected" if commit.startswith(REFERENCE_COMMIT) else f"expected {REFERENCE_COMMIT}"
    return f"{root}: PHM-Vibench {commit[:7]} ({state})"


# ---------------------------------------------------------------------------------------------
# The import hook.


def _locate(name: str) -> tuple[str, str]:
    parts = name.split("/")
    if len(parts) == 2:
        return f"src.model_factory.{parts[0]}.{parts[1]}", "Model"
    if len(parts) == 3:
        package = f"src.model_factory.{parts[0]}.{parts[1]}"
        file = _PACKAGE_EXPORTS.get(package, {}).get(parts[2], parts[2])
        return f"{package}.{file}", parts[2]
    raise ValueError(f"reference names are TYPE/NAME or ISFM/SLOT/CLASS, got {name!r}")


class _Finder(importlib.abc.MetaPathFinder):
    """Finds ``src`` and everything below it in the checkout; packages get stub loaders."""

    def __init__(self, root: str) -> None:
        self.root = root

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> importlib.machinery.ModuleSpec | None:
        if fullname != "src" and not fullname.startswith("src."):
            return None
        base = os.path.join(self.root, *fullname.split("."))
        if os.path.isdir(base):
            spec = importlib.machinery.ModuleSpec(fullname, _StubPackage(), is_package=True)
            spec.submodule_search_locations = [base]
            return spec
        if os.path.isfile(base + ".py"):
            return importlib.util.spec_from_file_location(fullname, base + ".py")
        return None


class _StubPackage(importlib.abc.Loader):
    """A package without its ``__init__``; the ISFM component packages bind their classes."""

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> None:
        return None

    def exec_module(self, module: types.ModuleType) -> None:
        module.__dict__.update(_PACKAGE_ATTRIBUTES.get(module.__name__, {}))
        exports = _PACKAGE_EXPORTS.get(module.__name__, {})
        for attribute, file in exports.items():
            submodule = importlib.import_module(f"{module.__name__}.{file}")
            setattr(module, attribute, getattr(submodule, attribute))


def _install(ref_dir: str | os.PathLike[str]) -> None:
    global _installed
    root = os.path.abspath(os.fspath(ref_dir))
    if _installed == root:
        return
    if _installed is not None:
        raise RuntimeError(f"the reference at {_installed} is already loaded in this process; one checkout per process")
    check_checkout(root)
    if "src" in sys.modules:
        raise RuntimeError(f"a module named `src` is already imported ({sys.modules['src']!r}); the reference needs "
                           "that top-level name")
    sys.meta_path.insert(0, _Finder(root))
    _installed = root


@contextlib.contextmanager
def _stand_ins() -> Iterator[None]:
    missing = {top for top in {name.split(".")[0] for name in STAND_INS}
               if top not in sys.modules and not _installed_package(top)}
    added = []
    for name, attributes in STAND_INS.items():
        if name.split(".")[0] not in missing:
            continue
        module = types.ModuleType(name)
        module.__dict__.update(attributes)
        sys.modules[name] = module
        added.append(name)
    blocked = [name for name in _OPTIONAL if name not in sys.modules]
    for name in blocked:
        sys.modules[name] = None  # type: ignore[assignment]
    try:
        yield
    finally:
        for name in added + blocked:
            sys.modules.pop(name, None)


def _installed_package(top: str) -> bool:
    try:
        return importlib.util.find_spec(top) is not None
    except (ImportError, ValueError):
        return False


def main(argv: list[str] | None = None) -> int:
    """``python scripts/reference.py DIR``: say whether the folder DIR is a PHM-Vibench checkout (exit 1 if
    not); a DIR that is no folder is a usage error (exit 2), as are options it does not take (``--help``
    prints the usage: it was read as the folder)."""
    import argparse

    parser = argparse.ArgumentParser(prog="scripts/reference.py",
                                     description="Say whether a folder is a PHM-Vibench checkout (exit 1 if not).")
    parser.add_argument("reference_dir", metavar="REFERENCE_DIR",
                        help="the checkout's folder (github.com/PHMbench/PHM-Vibench at " + REFERENCE_COMMIT + ")")
    args = parser.parse_args(argv)
    if not args.reference_dir:  # (`make reference REFERENCE=`)
        parser.error("REFERENCE_DIR is empty: give the checkout's folder")
    if not os.path.isdir(args.reference_dir):
        what = "is not a folder" if os.path.exists(args.reference_dir) else "does not exist"
        parser.error(f"REFERENCE_DIR: {os.path.abspath(args.reference_dir)} {what}")
    try:
        print(check_checkout(args.reference_dir))
    except FileNotFoundError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
