"""The pickle inside a checkpoint file: how deep it nests and how far it expands, read before ``torch.load``
unpickles it, and why ``torch.load`` refused one, in a message.

Unpickling hashes a dict's keys and a set's items as it builds them, in C, one C frame per level of a nested
tuple: a 400 KB file holding a key nested 200,000 tuples deep crashes the process (a segmentation fault, under
``weights_only`` too, no exception). A key built of shared parts (``t1 = (t0, t0)``, ``t2 = (t1, t1)``, ... each
part once in the file, by the memo) is hashed part by part as if written out: 60 such levels in 1.3 KB are 2**60
parts, a hash in C that never ends and no signal stops. :func:`nesting_problem` walks the pickle's opcodes
(``pickletools.genops``, nothing built) and follows how deep each object on the unpickler's stack nests and how
many parts it has written out; a file whose objects nest past :data:`MAX_NESTING` levels or expand past
:data:`MAX_EXPANDED` parts is refused before ``torch.load`` reads it.

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

MAX_EXPANDED = 1 << 25
"""The most parts one object of a checkpoint's pickle may have written out, a part shared through the pickle's memo
counted each time it is used (33,554,432; hashing a key of as many shared parts takes about 0.25 s): hashing a key
or printing an object walks them all. Parts are the pickle's own (a number, a string, a tensor's storage key: 1
each, however long). A ``torch.save``'d state_dict has about 20 a tensor (200,000 tensors: 4.0 million), a
Lightning checkpoint with hyper-parameters and Adam's state under 90 a parameter (100 parameters: 8,555); only
sharing expands an object past the file's own length (a tensor saved under two names, as TCN's ``conv1`` is
``net.0``, counts twice)."""

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
    for stream, pickles, name in _pickles(file, size):
        found = _said(_deepest(stream, pickles), name)
        if found:
            return found
    return ""


def saved_protocol(file: BinaryIO, size: int) -> int | None:
    """The pickle protocol the checkpoint in ``file`` (as :func:`nesting_problem` takes it) was saved with: its
    ``data.pkl``'s PROTO (a legacy file's first pickle's), or, where that opens with none, 0 or 1, the highest
    protocol of the opcodes its pickles use (torch.save's legacy magic number is protocol 0 in either); None where
    there is no pickle (a zip without one) or the file is no checkpoint (a legacy one starts with the magic number)."""
    found = _pickles(file, size)
    found.sort(key=lambda each: not each[2].lower().endswith("data.pkl'"))  # a TorchScript archive's constants.pkl
    if not found:
        return None
    stream, pickles, _ = found[0]
    highest, declared, magic = 0, None, pickles == 1
    try:
        for at in range(min(pickles, 3)):  # a legacy file's magic number, protocol number and sizes tell 0 from 1
            for op, arg, _ in pickletools.genops(stream):
                declared = int(arg or 0) if op.name == "PROTO" and declared is None else declared
                magic = magic or (at == 0 and arg == _MAGIC_NUMBER)
                highest = max(highest, op.proto)
            if declared is not None:
                break
    except Exception:  # noqa: BLE001 - damaged, or a plain pickle's end: what was read tells
        pass
    # a plain pickle (no magic number first) is no checkpoint whatever its protocol: torch.load's reason says so
    return None if not magic else highest if declared is None else declared


_MAGIC_NUMBER = 0x1950A86A20F9469CFC6C
"""The number a legacy torch.save checkpoint's first pickle holds (``torch.serialization.MAGIC_NUMBER``)."""


def _pickles(file: BinaryIO, size: int) -> list[tuple[BinaryIO, int, str]]:
    """The pickles of the checkpoint in ``file``: each stream, how many pickles it holds one after another and its
    name in a message (' ' and the zip entry's)."""
    file.seek(0)
    if file.read(4) != b"PK\x03\x04":  # a legacy checkpoint (torch.save's before 1.6) or a plain pickle
        file.seek(0)
        return [(file, _LEGACY_PICKLES, "")]
    with zipfile.ZipFile(file) as archive:  # its close leaves ``file`` open
        # miniz (torch's reader) finds archive/data.pkl as DATA.PKL too
        entries = [entry for entry in archive.infolist() if entry.filename.lower().endswith(".pkl")]
    found: list[tuple[BinaryIO, int, str]] = []
    for entry in entries:  # data.pkl; a TorchScript archive's constants.pkl, which --trust-checkpoint reads
        file.seek(entry.header_offset)
        header = file.read(30)  # the entry's name and extra field, of the lengths it gives, come before its bytes
        start = entry.header_offset + 30 + sum(int.from_bytes(header[k:k + 2], "little") for k in (26, 28))
        file.seek(start)
        stream = io.BytesIO(file.read(max(0, min(entry.compress_size, size - start))))
        found.append((stream, 1, " " + shown(repr(entry.filename), 120)))
    return found


def _said(found: tuple[int, bool] | None, name: str) -> str:
    if found is None:
        return ""
    byte, nested = found
    if nested:
        return (f"its pickle{name} nests objects more than {MAX_NESTING} levels deep (at byte {byte:,}); vibench reads "
                "no checkpoint nested so deep, as unpickling it could crash torch's reader: save the model's "
                "state_dict alone")
    return (f"its pickle{name} builds an object of more than {MAX_EXPANDED:,} parts out of parts it shares (at byte "
            f"{byte:,}); vibench reads no such checkpoint, as unpickling it could hash them all, without end: save "
            "the model's state_dict alone")


def _deepest(stream: BinaryIO, pickles: int) -> tuple[int, bool] | None:
    """Where the first of ``pickles`` pickles read one after another from ``stream`` nests objects past
    :data:`MAX_NESTING` or expands one past :data:`MAX_EXPANDED` (the byte of the opcode; True for the nesting), or
    None."""
    try:
        for _ in range(pickles):
            found = _walk(pickletools.genops(stream))
            if found is not None:
                return found
    except Exception:  # noqa: BLE001 - genops's ValueError where the pickle is damaged: torch's reader says why
        return None
    return None


def _walk(ops: Iterator[tuple[Any, Any, int | None]]) -> tuple[int, bool] | None:
    """The byte of the first opcode that nests objects past :data:`MAX_NESTING` (True) or builds one that expands
    past :data:`MAX_EXPANDED` parts (False), or None at the pickle's STOP (ValueError where its stack runs out:
    damaged). Each object on the unpickler's stack is followed by how deep it nests (0: a number, a string, an empty
    list) and how many parts it has written out (1 for those): one built of others is one level deeper than the
    deepest of them and one part more than all of theirs; one filled (a list appended to, a dict given items) is as
    deep as it was or one level deeper than what went in, and holds their parts too. The memo keeps an object as
    it was when put there: a list filled after that counts as it was when taken again, which no hash reaches (a
    list is no key) and no message prints in full (a key is shown clipped as it is written)."""
    stack: list[tuple[int, int]] = []  # (depth, parts) of each object
    marks: list[int] = []  # where each open MARK is on the stack
    memo: dict[Any, tuple[int, int]] = {}
    for op, arg, byte in ops:
        name, before = op.name, op.stack_before
        if name == "MARK":
            marks.append(len(stack))
        elif name in _PUTS and stack:
            memo[len(memo) if name == "MEMOIZE" else arg] = stack[-1]
        elif name in _GETS or (name == "DUP" and stack):
            stack.append(stack[-1] if name == "DUP" else memo.get(arg, (0, 1)))
        elif name == "POP" and marks and len(stack) == marks[-1]:  # nothing above the last MARK: it pops the MARK
            marks.pop()
        else:
            taken: list[tuple[int, int]] = []
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
            parts = sum(size for _, size in held + taken)  # a sum past the limit is capped: no 2**1000
            if name in _FILLS:  # the container stays, as deep as it was or one level above what went in
                depth = max([held[0][0], *(1 + depth for depth, _ in held[1:] + taken)])
                stack.append((depth, min(parts, MAX_EXPANDED + 1)))
            else:
                depth = 1 + max(depth for depth, _ in held + taken) if held or taken else 0
                stack.extend([(depth, min(1 + parts, MAX_EXPANDED + 1))] * len(op.stack_after))
        if len(marks) > MAX_NESTING or (stack and stack[-1][0] > MAX_NESTING):
            return byte or 0, True
        if stack and stack[-1][1] > MAX_EXPANDED:
            return byte or 0, False
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


def unreadable(place: str, err: Exception, weights_only: bool, protocol: int | None = None) -> str:
    """Why ``torch.load`` (``weights_only`` or not) could not read the checkpoint ``place`` (its name as a message
    shows it), raising ``err``: an object weights_only refused in a sound file (with the --trust-checkpoint
    advice), a pickle protocol its reader does not read (``protocol``: :func:`saved_protocol`'s), a module the
    file's objects need that is not installed, a file cut short, or damage (torch's own short reason)."""
    import re

    text = str(err)
    protocols = _protocol_problem(place, text, weights_only, protocol)
    if protocols:
        return protocols
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


def _protocol_problem(place: str, text: str, weights_only: bool, protocol: int | None) -> str:
    """'' unless torch refused a file saved with a pickle protocol it does not read: weights_only reads protocols
    2 and 3 only (torch.save's default is 2; ``pickle_protocol=4`` writes FRAME, 0x95, first: "Unsupported operand
    149"), and no torch.load reads protocol 0, whose storages' keys are text ("saved_id must be a tuple")."""
    import pickletools
    import re

    operand = re.search(r"Unsupported operand (\d+)", text) if weights_only else None
    if protocol == 0 and (operand or "saved_id must be a tuple" in text):
        return (f"cannot read the checkpoint {place}: it was saved with pickle protocol 0, which torch.load does not "
                "read: save it again with torch.save's default protocol (pickle_protocol=2)")
    if operand is None or protocol is None or protocol in (2, 3) or not 0 <= int(operand[1]) < 256:
        return ""
    code = int(operand[1])
    opcode = next((op for op in pickletools.opcodes if op.code == chr(code)), None)
    what = f"{opcode.name}, " if opcode is not None else ""
    return (f"cannot read the checkpoint {place}: it was saved with pickle protocol {protocol} ({what}byte "
            f"0x{code:02x}), which torch's weights_only reader does not read: save it again with torch.save's "
            "default protocol (pickle_protocol=2) or, if you trust the file, load it with weights_only=False "
            "(--trust-checkpoint)")
