"""The pickle inside a checkpoint file: how deep it nests, read before ``torch.load`` unpickles it, and why
``torch.load`` refused one, in a message.

Unpickling hashes a dict's keys and a set's items as it builds them, in C, one C frame per level of a nested
tuple: a 400 KB file holding a key nested 200,000 tuples deep crashes the process (a segmentation fault, under
``weights_only`` too, no exception). :func:`nesting_problem` walks the pickle's opcodes (``pickletools.genops``,
nothing built) and follows how deep each object on the unpickler's stack nests; a file whose objects nest past
:data:`MAX_NESTING` levels is refused before ``torch.load`` reads it.

vibench.runtime.checkpoint's :func:`~vibench.runtime.checkpoint.read_checkpoint` says these words; model.py's
loader carries the same scan and says them too (tests/test_checkpoint_1206i.py compares the two).

>>> import io, torch
>>> saved = io.BytesIO()
>>> torch.save({"w": torch.zeros(3)}, saved)
>>> nesting_problem(saved, len(saved.getvalue()))
''
>>> deep = io.BytesIO(b"\\x80\\x02}" + b"(" * 2000 + b")" + b"t" * 2000 + b"K\\x01s.")  # {((...),): 1}, not zipped
>>> print(nesting_problem(deep, len(deep.getvalue())))  # doctest: +NORMALIZE_WHITESPACE
its pickle nests objects more than 1000 levels deep (at byte 1,003); vibench reads no checkpoint nested so deep, as
unpickling it could crash torch's reader: save the model's state_dict alone
"""

from __future__ import annotations

import io
import pickletools
import zipfile
from collections.abc import Iterator
from typing import Any, BinaryIO

from vibench.runtime.checkpoint_zip import shown

MAX_NESTING = 1000
"""The deepest a checkpoint's pickle may nest objects (tuples in tuples, lists in dicts, a MARK's open items).
``pickle.dump`` (torch.save's) recurses once a level up to Python's recursion limit (1,000 by default), yet an
object built level by level (``prev = (i, prev)``) is saved deeper, memo-shared; building and hashing it recurses
as deep all the same, so vibench reads none. A ``torch.save``'d state_dict nests 5 levels, a Lightning checkpoint
about 10, a whole model pickled about 3 a level of its modules (a ``Sequential`` 20 deep: 69)."""

_FILLS = frozenset({"APPEND", "APPENDS", "SETITEM", "SETITEMS", "ADDITEMS", "BUILD"})
"""The opcodes that put what they take into the object below them, which stays on the stack."""
_PUTS = frozenset({"PUT", "BINPUT", "LONG_BINPUT", "MEMOIZE"})
_GETS = frozenset({"GET", "BINGET", "LONG_BINGET"})
_LEGACY_PICKLES = 5
"""A legacy (non-zip) checkpoint's pickles, one after another: torch.load reads a magic number, the protocol, the
system's sizes, the object and its storages' keys (a plain pickle: the first is the object)."""


def nesting_problem(file: BinaryIO, size: int) -> str:
    """Why the pickle of the checkpoint in ``file`` (a seekable binary file of ``size`` bytes, a zip archive whose
    entries are stored, as :func:`~vibench.runtime.checkpoint_zip.zip_problem` lets through, or a legacy pickle) is
    not given to ``torch.load``, in words that follow "cannot read the checkpoint PATH: "; '' to read it.

    A zip's ``.pkl`` entries are read as torch's reader reads them, from their local headers (it checks no CRC).
    The walk is linear in the pickle's length; where the pickle is damaged (an unknown opcode, a stack emptied,
    the end reached early) it stops, as torch's reader stops there too and says why."""
    file.seek(0)
    if file.read(4) != b"PK\x03\x04":  # a legacy checkpoint (torch.save's before 1.6) or a plain pickle
        file.seek(0)
        return _said(_deepest(file, _LEGACY_PICKLES), "")
    with zipfile.ZipFile(file) as archive:  # its close leaves ``file`` open
        # miniz (torch's reader) finds archive/data.pkl as DATA.PKL too
        pickles = [entry for entry in archive.infolist() if entry.filename.lower().endswith(".pkl")]
    for entry in pickles:  # data.pkl; a TorchScript archive's constants.pkl, which --trust-checkpoint reads
        file.seek(entry.header_offset)
        header = file.read(30)  # the entry's name and extra field, of the lengths it gives, come before its bytes
        start = entry.header_offset + 30 + sum(int.from_bytes(header[k:k + 2], "little") for k in (26, 28))
        file.seek(start)
        found = _said(_deepest(io.BytesIO(file.read(max(0, min(entry.compress_size, size - start)))), 1),
                      " " + shown(repr(entry.filename), 120))
        if found:
            return found
    return ""


def _said(byte: int | None, name: str) -> str:
    if byte is None:
        return ""
    return (f"its pickle{name} nests objects more than {MAX_NESTING} levels deep (at byte {byte:,}); vibench reads no "
            "checkpoint nested so deep, as unpickling it could crash torch's reader: save the model's state_dict alone")


def _deepest(stream: BinaryIO, pickles: int) -> int | None:
    """Where the first of ``pickles`` pickles read one after another from ``stream`` nests objects past
    :data:`MAX_NESTING` (the byte of the opcode), or None."""
    try:
        for _ in range(pickles):
            byte = _walk(pickletools.genops(stream))
            if byte is not None:
                return byte
    except Exception:  # noqa: BLE001 - genops's ValueError where the pickle is damaged: torch's reader says why
        return None
    return None


def _walk(ops: Iterator[tuple[Any, Any, int | None]]) -> int | None:
    """The byte of the first opcode that nests objects past :data:`MAX_NESTING`, or None at the pickle's STOP
    (ValueError where its stack runs out: damaged). Each object on the unpickler's stack is followed by how deep
    it nests (0: a number, a string, an empty list): one built of others is one level deeper than the deepest of
    them; one filled (a list appended to, a dict given items) is as deep as it was or one level deeper than what
    went in. The memo keeps an object's depth when it was put there: a list filled after that counts as it was
    when taken again, which no hash reaches (a list is no key)."""
    stack: list[int] = []
    marks: list[int] = []  # where each open MARK is on the stack
    memo: dict[Any, int] = {}
    for op, arg, byte in ops:
        name, before = op.name, op.stack_before
        if name == "MARK":
            marks.append(len(stack))
        elif name in _PUTS and stack:
            memo[len(memo) if name == "MEMOIZE" else arg] = stack[-1]
        elif name in _GETS or (name == "DUP" and stack):
            stack.append(stack[-1] if name == "DUP" else memo.get(arg, 0))
        elif name == "POP" and marks and len(stack) == marks[-1]:  # nothing above the last MARK: it pops the MARK
            marks.pop()
        else:
            taken: list[int] = []
            below = len(before)
            if pickletools.markobject in before:
                if not marks:
                    raise ValueError("no MARK to pop")
                below = before.index(pickletools.markobject)
                taken = stack[marks[-1]:]
                del stack[marks.pop():]
            if below > len(stack):
                raise ValueError("the stack runs out")
            held = stack[len(stack) - below:]
            del stack[len(stack) - below:]
            if name in _FILLS:  # the container stays, as deep as it was or one level above what went in
                stack.append(max([held[0], *(1 + depth for depth in held[1:] + taken)]))
            else:
                stack.extend([1 + max(held + taken) if held or taken else 0] * len(op.stack_after))
        if len(marks) > MAX_NESTING or (stack and stack[-1] > MAX_NESTING):
            return byte or 0
    return None


# --------------------------------------------------------------------------------------------
# torch.load's refusals
# --------------------------------------------------------------------------------------------

_REFUSALS = (  # what torch's weights_only unpickler refuses in a sound file (torch/_weights_only_unpickler.py)
    (r"GLOBAL (\S+) was not an allowed global", "GLOBAL {0}"),
    (r"unsupported GLOBAL (\S+) whose module (\S+) is blocked", "GLOBAL {0} (its module {1} is blocked)"),
    (r"call reduce for unrecognized function ([^\n]+)", "a call of {0}"),
    (r"Can only create new object for nn.Parameter .* but got ([^\n]+)", "an object of {0}"),
    (r"must be imported to load ([^\n]+)", "{0}"),
    (r"with (TorchScript archives|files saved in the legacy .tar format)", "{0}"),
)


def unreadable(place: str, err: Exception, weights_only: bool) -> str:
    """Why ``torch.load`` (``weights_only`` or not) could not read the checkpoint ``place`` (its name as a message
    shows it), raising ``err``: an object weights_only refused in a sound file (with the --trust-checkpoint
    advice), a module the file's objects need that is not installed, a file cut short, or damage (torch's own
    short reason)."""
    import re

    text = str(err)
    for pattern, form in _REFUSALS if weights_only else ():
        match = re.search(pattern, text)
        if match is None:
            continue
        # torch names weights_only in every unpickling error, a damaged file's `Unsupported operand 255` too: a
        # "global" that is no dotted Python name is damage
        if "GLOBAL" not in form or all(part.isidentifier() for part in match[1].split(".")):
            refused = shown(form.format(*(g.rstrip(".") for g in match.groups())), 120)
            return (f"the checkpoint {place} holds objects besides tensors: torch's weights_only refused {refused}. "
                    "A Lightning checkpoint's hyper-parameters are such objects; if you trust the file, load it with "
                    "weights_only=False (--trust-checkpoint)")
        break
    if isinstance(err, ModuleNotFoundError) and err.name:  # unpickling a class imports its module
        return (f"the checkpoint {place} pickles objects of module {shown(repr(err.name), 120)}, which must be "
                "importable to read it (install the code it was saved with), or save the model's state_dict alone")
    # A zip cut short has lost its central directory (at the end): torch's reader says so, or, when its search for
    # it runs past the file's start (a file under ~64 KiB), the seek fails with EINVAL (errno 22 on every platform
    # torch runs on); a legacy pickle ends mid-record.
    lost = isinstance(err, EOFError) or (isinstance(err, OSError) and err.errno == 22)
    if lost or not text.strip() or any(
            sign in text for sign in ("truncated", "unexpected EOF", "failed finding central directory")):
        return f"cannot read the checkpoint {place}: the file ends early (truncated?)"
    reason = text.split("\n\nCheck the documentation of torch.load")[0]  # torch's reason, not its advice
    reason = reason.rpartition("WeightsUnpickler error:")[2] or reason.rpartition("from a trusted source.")[2] or reason
    reason = shown(" ".join(reason.split(". This is an internal miniz error")[0].split()) or "no reason given", 160)
    return f"cannot read the checkpoint {place}: the file is damaged or not a PyTorch checkpoint (torch: {reason})"
