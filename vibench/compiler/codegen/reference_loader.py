"""The PHM-Vibench checkpoint loader that the emitted model.py carries (copied by source, as
:mod:`vibench.compiler.codegen.support`'s helpers are) when its template has a reference.

:func:`load_reference_state_dict` loads PHM-Vibench checkpoints through the class's rename map, with
nothing but torch (also Lightning checkpoints, whose keys start with ``network.``): the checks of
``vibench.runtime.checkpoint.load_reference_state_dict`` and its all-or-nothing loading (a model wrapped by
torch.compile or (Distributed)DataParallel is loaded into the one it wraps; a prefix without its dot names a
component), without its hints (``num_classes``, prefix) or warnings; tests/test_model_py_loader.py runs both on the same
checkpoints.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch
    from torch import nn
else:
    from vibench.compiler.blocks.torchless import nn, torch


def load_reference_state_dict(model: nn.Module, state_dict, strict: bool = True, prefix: str = "network."):
    """Load a PHM-Vibench state_dict or Lightning checkpoint (model keys `network.*`), or the path of a file holding
    one (read with torch.load(weights_only=True)), into ``model`` through its rename map; returns (missing,
    unexpected). All or nothing, as vibench.runtime.checkpoint's: a checkpoint that does not fit (a key over 1,024
    characters, a value that is no tensor with values or an expanded one, keys that collide after renaming with
    different values, a shape or dtype-kind mismatch, or missing or unexpected keys with ``strict``) raises a KeyError
    (also a ValueError) before anything is copied; a copy that fails all the same restores the model. A file torch
    cannot read (missing, cut short, damaged, not a checkpoint, holding objects besides tensors) or should not
    (compressed zip entries, objects nested past 1,000 levels) is that error too, in the runtime's words. A model,
    strict or prefix of another kind is a TypeError naming it. A model wrapped by torch.compile or
    (Distributed)DataParallel is loaded into the model it wraps; a prefix without its final dot (`network`) names that
    component."""
    error = type("ReferenceCheckpointError", (KeyError, ValueError), {"__str__": lambda e: str(e.args[0])})
    if (type(strict).__module__, type(strict).__name__) in (("numpy", "bool"), ("numpy", "bool_")):
        strict = bool(strict)  # a numpy bool (numpy 2 names its type `bool`) is the bool it holds
    for what, value, kinds, wanted in (  # in the caller's words ('str' object has no attribute 'state_dict')
        ("model", model, nn.Module, "a torch.nn.Module (the model to load into)"),
        ("strict", strict, bool, "True or False"),  # strict="no" was taken as true
        ("prefix", prefix, (str, type(None)), "a str (the prefix of the model's keys, 'network.') or None"),
    ):
        if not isinstance(value, kinds):
            raise TypeError(f"load_reference_state_dict: {what} must be {wanted}; found {type(value).__name__}")
    while isinstance(model, (nn.DataParallel, nn.parallel.DistributedDataParallel)) or hasattr(model, "_orig_mod"):
        inner = model._orig_mod if hasattr(model, "_orig_mod") else model.module  # torch.compile's, (D)DP's
        if not isinstance(inner, nn.Module):
            break
        model = inner
    name, renames = type(model).__name__, getattr(type(model), "REFERENCE_STATE_DICT_RENAMES", ())
    own, converted = model.state_dict(), dict[str, torch.Tensor]()

    def key(k) -> str:  # as repr writes it, part by part and only as far as shown (2**60 shared parts: no end)
        def leaf(v) -> str:  # a str sliced before its repr is made; a tensor or other object by its type, not its repr
            if isinstance(v, (str, bytes)) or type(v) in (float, complex, bool, type(None)):
                return repr(v[:124] if isinstance(v, (str, bytes)) else v)
            if type(v) is int:
                return repr(v) if v.bit_length() <= 492 else f"<int of {v.bit_length():,} bits>"
            if isinstance(v, torch.Tensor):
                return f"<{type(v).__name__} {list(v.shape)} {str(v.dtype)[6:]}>"
            return f"<{type(v).__name__} object>"

        def parts(item):  # a tuple's or frozenset's text (True) and parts (False), one at a time
            empty = type(item) is frozenset and not item
            ends = ("(", ",)" if len(item) == 1 else ")") if type(item) is tuple else ("frozenset({", "})")
            yield True, "frozenset(" if empty else ends[0]
            for at, part in enumerate(item):
                yield from [(True, ", "), (False, part)] if at else [(False, part)]
            yield True, ")" if empty else ends[1]

        out, todo = list[str](), [iter([(False, k)])]
        try:
            while todo and sum(map(len, out)) < 123:
                step = next(todo[-1], None)
                if step is None:
                    todo.pop()
                elif step[0] or type(step[1]) not in (tuple, frozenset):
                    out.append(step[1] if step[0] else leaf(step[1]))
                else:
                    todo.append(parts(step[1]))
        except Exception as err:  # a trusted file's object: a tensor subclass whose shape raises
            return f"<{type(k).__name__} key: writing it raised {type(err).__name__}>"
        written = "".join(out)
        return written if len(written) <= 122 else written[:120] + "..."

    def listing(items: list, write=str) -> str:  # the first 8 written, the rest counted
        more = f", ... ({len(items) - 8} more)" if len(items) > 8 else ""
        return f"({len(items)}): " + ", ".join(map(write, items[:8])) + more

    def renamed(k):
        for pattern, replacement in renames if isinstance(k, str) else ():
            k = re.sub(pattern, replacement, k)
        return k

    def flaw(v) -> str:  # what keeps a value from loading ('' for a tensor with values)
        if not isinstance(v, torch.Tensor):
            return type(v).__name__
        what = "meta" if v.is_meta else "nested" if v.is_nested else "quantized" if v.is_quantized else ""
        what = what or str(v.layout)[6:]  # a nested tensor's layout is strided (or jagged)
        if what != "strided":
            return f"{what} tensor"
        # more elements than its storage holds (zeros(1).expand(2**40)): comparing it would walk them all
        stored = v.untyped_storage().nbytes() // v.element_size()
        return f"expanded tensor: {v.numel():,} elements over {stored:,} stored" if v.numel() > stored else ""

    def same(a, b) -> bool:  # one tensor saved under two names (TCN's conv1 is net.0), or equal ones, NaN as NaN
        def view(t) -> tuple:  # one storage, read alike (the caller compared the shapes)
            return t.dtype, t.stride(), t.storage_offset(), t.is_conj(), t.is_neg(), t.untyped_storage().data_ptr()

        if view(a) == view(b) or torch.equal(a, b):
            return True
        if a.is_complex() and b.is_complex():  # NaN in either part, in its place
            a, b = (torch.view_as_real(t.resolve_conj().resolve_neg()) for t in (a, b))
        return a.is_floating_point() and b.is_floating_point() and bool(((a == b) | (a.isnan() & b.isnan())).all())

    def kind(t) -> tuple:
        return t.shape, t.is_complex(), t.is_floating_point()

    def form(t) -> str:
        return f"{list(t.shape)} {str(t.dtype)[6:]}"

    def shown(text: str, limit: int) -> str:  # text from a file or from torch: control characters escaped, clipped
        def escape(c: str) -> str:  # a name's byte that is no UTF-8 (Python's surrogate escape) as \xff
            surrogate = 0xDC80 <= ord(c) <= 0xDCFF
            return f"\\x{ord(c) - 0xDC00:02x}" if surrogate else c.encode("unicode_escape").decode("ascii")

        flat = text if text.isprintable() else "".join(map(escape, text))
        return flat if len(flat) <= limit else flat[:limit] + "..."

    def unreadable(place: str, err: Exception, saved) -> str:  # why torch.load refused a file, as the runtime's says
        import pickletools

        text = str(err)
        operand = re.search(r"Unsupported operand (\d+)", text)  # weights_only reads pickle protocols 2 and 3 only
        if saved == 0 and operand:  # and no torch.load reads protocol 0, whose storages' keys are text
            return (
                f"cannot read the checkpoint {place}: it was saved with pickle protocol 0, which torch.load does "
                "not read: save it again with torch.save's default protocol (pickle_protocol=2)"
            )
        if operand and saved is not None and saved not in (2, 3) and 0 <= int(operand[1]) < 256:
            opcode = next((op for op in pickletools.opcodes if op.code == chr(int(operand[1]))), None)
            return (
                f"cannot read the checkpoint {place}: it was saved with pickle protocol {saved} ("
                + (f"{opcode.name}, " if opcode is not None else "")
                + f"byte 0x{int(operand[1]):02x}), which torch's "
                "weights_only reader does not read: save it again with torch.save's default protocol "
                "(pickle_protocol=2) or, if you trust the file, read it with torch.load(path, weights_only=False) and "
                "pass what it holds"
            )
        refusals = (  # what weights_only refuses in a sound file (torch/_weights_only_unpickler.py)
            (r"GLOBAL (\S+) was not an allowed global", "GLOBAL {0}"),
            (r"unsupported GLOBAL (\S+) whose module (\S+) is blocked", "GLOBAL {0} (its module {1} is blocked)"),
            (r"call reduce for unrecognized function ([^\n]+)", "a call of {0}"),
            (r"Can only create new object for nn.Parameter .* but got ([^\n]+)", "an object of {0}"),
            (r"must be imported to load ([^\n]+)", "{0}"),
            (r"with (TorchScript archives|files saved in the legacy .tar format)", "{0}"),
        )
        for pattern, words in refusals:
            match = re.search(pattern, text)
            if match is None:
                continue
            # torch names weights_only in every unpickling error; a "global" that is no dotted name is damage
            if "GLOBAL" not in words or all(part.isidentifier() for part in match[1].split(".")):
                refused = shown(words.format(*(g.rstrip(".") for g in match.groups())), 120)
                return (
                    f"the checkpoint {place} holds objects besides tensors: torch's weights_only refused {refused}. "
                    "A Lightning checkpoint's hyper-parameters are such objects; if you trust the file, read it with "
                    "torch.load(path, weights_only=False) and pass what it holds"
                )
            break
        # A zip cut short has lost its central directory (at the end): torch's reader says so, or, when its search
        # for it runs past the file's start (a file under ~64 KiB), the seek fails with EINVAL (errno 22 on every
        # platform torch runs on); a legacy pickle ends mid-record.
        ends = ("truncated", "unexpected EOF", "failed finding central directory")
        lost = isinstance(err, EOFError) or (isinstance(err, OSError) and err.errno == 22)
        if lost or not text.strip() or any(sign in text for sign in ends):
            return f"cannot read the checkpoint {place}: the file ends early (truncated?)"
        reason = text.split("\n\nCheck the documentation of torch.load")[0]  # torch's reason, not its advice
        reason = reason.rpartition("WeightsUnpickler error:")[2] or reason.rpartition("trusted source.")[2] or reason
        reason = shown(" ".join(reason.split(". This is an internal miniz error")[0].split()) or "no reason given", 160)
        return f"cannot read the checkpoint {place}: the file is damaged or not a PyTorch checkpoint (torch: {reason})"

    def unzipped(fh, size: int) -> str:  # why a zip is not given to torch.load, as vibench.runtime.checkpoint_zip says
        import zipfile  # torch.save stores every entry: torch.load would expand a compressed one (1 MB: 1 GiB) unasked

        try:  # the directory alone, nothing extracted
            with zipfile.ZipFile(fh) as archive:  # its close leaves fh open
                entries = archive.infolist()
        except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError) as err:  # a version it lacks
            if str(err) == "File is not a zip file":  # no end record, as in a file cut short
                return "the file ends early (truncated?)"
            return f"the file is damaged or not a PyTorch checkpoint (zip: {shown(str(err), 160)})"
        # zipfile (these checks) and miniz (torch.load) must read one directory, where the end records say, and one
        # entry a name (miniz finds names in any case); torch.save writes no comment, a zip64 end record before it
        fh.seek(max(0, size - 98))
        tail = fh.read(98).rjust(98, b"\0")  # a zip64 end record (56 bytes), its locator (20), the end record (22)
        zip64, number = tail[56:60] == b"PK\x06\x07", lambda at, width: int.from_bytes(tail[at : at + width], "little")
        record, directory, offset = (
            (number(64, 8), number(40, 8), number(48, 8)) if zip64 else (size - 22, number(88, 4), number(92, 4))
        )
        seen, twins = dict[str, str](), ""
        for e in entries:
            twin = seen.setdefault(e.filename.lower(), e.filename)
            if twin is not e.filename and not twins:
                twins = f"two entries are named {shown(repr(twin), 120)} and {shown(repr(e.filename), 120)}"
        misplaced = (
            "its end record is not the file's last 22 bytes"
            if tail[76:80] != b"PK\x05\x06" or tail[96:] != b"\0\0"
            else "its zip64 end record is not right before its end record"
            if zip64 and (record != size - 98 or tail[:4] != b"PK\x06\x06")
            else f"its central directory is at byte {record - directory:,}, its end record says {offset:,}"
            if offset + directory != record
            else twins
        )
        if misplaced:
            return f"the file is not laid out as torch.save writes it: {misplaced}, so nothing was read"
        packed = sorted((e for e in entries if e.compress_type != zipfile.ZIP_STORED), key=lambda e: -e.file_size)
        if packed:
            name, verb = shown(repr(packed[0].filename), 120), "is" if len(packed) == 1 else "are"
            return (
                f"{len(packed):,} of its zip entries {verb} compressed ({name} expands {packed[0].compress_size:,} "
                f"bytes to {packed[0].file_size:,}), which torch.save never writes, so none was expanded; save the "
                "tensors again with torch.save"
            )
        declared = sum(e.file_size for e in entries)  # entries pointing at one stored block declare more
        if declared > size:
            return (
                f"the file is damaged or not a PyTorch checkpoint (zip: its entries declare {declared:,} bytes, more "
                f"than the file's {size:,})"
            )
        return ""

    def nested(fh, size: int) -> str:  # a pickle nesting past 1,000 levels or expanding past 2**25 shared parts, as
        import io  # vibench.runtime.checkpoint_pickle says: unpickling hashes a key in C a frame a level (200,000
        import pickletools  # tuples deep crashed the process), every shared part each time (2**60 never ends)

        def deepest(stream, pickles: int):  # the byte of the first opcode past either, and True for the nesting
            fills = ("APPEND", "APPENDS", "SETITEM", "SETITEMS", "ADDITEMS", "BUILD")  # the container stays
            for _ in range(pickles):
                stack, marks, memo = list[tuple](), list[int](), dict[object, tuple]()  # (depth, parts); MARKs
                for op, arg, byte in pickletools.genops(stream):  # its ValueError where the pickle is damaged
                    if op.name == "MARK":
                        marks.append(len(stack))
                    elif op.name in ("PUT", "BINPUT", "LONG_BINPUT", "MEMOIZE") and stack:
                        memo[len(memo) if op.name == "MEMOIZE" else arg] = stack[-1]
                    elif op.name in ("GET", "BINGET", "LONG_BINGET") or (op.name == "DUP" and stack):
                        stack.append(stack[-1] if op.name == "DUP" else memo.get(arg, (0, 1)))
                    elif op.name == "POP" and marks and len(stack) == marks[-1]:  # nothing above it: POP takes the MARK
                        marks.pop()
                    else:
                        taken, below = [], len(op.stack_before)
                        if pickletools.markobject in op.stack_before:
                            below, taken = op.stack_before.index(pickletools.markobject), stack[marks[-1] :]
                            del stack[marks.pop() :]
                        if below > len(stack):
                            raise ValueError("the stack runs out")
                        held = stack[len(stack) - below :]
                        del stack[len(stack) - below :]
                        parts = min(sum(n for _, n in held + taken), 2**25 + 1)  # capped: no 2**1000
                        if op.name in fills:
                            stack.append((max([held[0][0], *(1 + d for d, _ in held[1:] + taken)]), parts))
                        else:
                            depth = 1 + max(d for d, _ in held + taken) if held or taken else 0
                            stack.extend([(depth, min(1 + parts, 2**25 + 1))] * len(op.stack_after))
                    if len(marks) > 1000 or (stack and stack[-1][0] > 1000):
                        return byte or 0, True
                    if stack and stack[-1][1] > 2**25:
                        return byte or 0, False
            return None

        for start, length, pickles, where in spans(fh, size):
            fh.seek(start)
            try:
                stream = fh if pickles > 1 else io.BytesIO(fh.read(max(0, min(length, size - start))))
                found = deepest(stream, pickles)
            except Exception:  # damaged: torch's reader stops there too and says why
                found = None
            if found is not None and found[1]:
                return (
                    f"its pickle{where} nests objects more than 1000 levels deep (at byte {found[0]:,}); vibench reads "
                    "no checkpoint nested so deep, as unpickling it could crash torch's reader: save the model's "
                    "state_dict alone"
                )
            if found is not None:
                return (
                    f"its pickle{where} builds an object of more than 33,554,432 parts out of parts it shares (at byte "
                    f"{found[0]:,}); vibench reads no such checkpoint, as unpickling it could hash them all, without "
                    "end: save the model's state_dict alone"
                )
        return ""

    def spans(fh, size: int) -> list:  # a checkpoint's pickles: (start, length, how many, name in a message)
        import zipfile

        fh.seek(0)
        if fh.read(4) != b"PK\x03\x04":  # a legacy file: a magic number, the protocol, sizes, the object, storage keys
            return [(0, size, 5, "")]
        with zipfile.ZipFile(fh) as archive:  # its close leaves fh open
            entries = [e for e in archive.infolist() if e.filename.lower().endswith(".pkl")]
        found = []
        for e in entries:  # the stored .pkl entries, from their local headers (torch checks no CRC)
            fh.seek(e.header_offset)
            header = fh.read(30)
            start = e.header_offset + 30 + sum(int.from_bytes(header[k : k + 2], "little") for k in (26, 28))
            found.append((start, e.compress_size, 1, " " + shown(repr(e.filename), 120)))
        return found

    def protocol(fh, size: int):  # the pickle protocol data.pkl (a legacy file's first pickle) declares, else 0 or 1
        import io
        import pickletools

        found = sorted(spans(fh, size), key=lambda span: not span[3].lower().endswith("data.pkl'"))
        if not found:
            return None
        start, length, pickles, _ = found[0]  # a legacy file's magic number, protocol number and sizes tell 0 from 1
        fh.seek(start)
        stream = fh if pickles > 1 else io.BytesIO(fh.read(max(0, min(length, size - start))))
        highest, declared, magic = 0, None, pickles == 1  # a legacy file starts with torch's magic number
        try:
            for at in range(min(pickles, 3)):
                for op, arg, _ in pickletools.genops(stream):
                    declared = int(arg or 0) if op.name == "PROTO" and declared is None else declared
                    magic = magic or (at == 0 and arg == 0x1950A86A20F9469CFC6C)
                    highest = max(highest, op.proto)
                if declared is not None:
                    break
        except Exception:  # damaged, or a plain pickle's end: what was read tells
            pass
        return None if not magic else highest if declared is None else declared  # a plain pickle: no checkpoint

    def read(path):  # torch.load on the CPU, tensors only; a file it cannot read is an error saying why
        import os  # here only: model.py's imports stay torch's and the helpers' (math, re)
        import stat

        path = os.fsdecode(path)  # a bytes path too: torch.load takes what is no str or os.PathLike for an open file
        place = shown(path, 200)
        try:  # the OS's reason is the open's only: torch.load's OSError is the file's (see unreadable)
            fh = open(os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0)), "rb")  # a FIFO: no wait
            try:
                status = os.fstat(fh.fileno())
                regular = stat.S_ISREG(status.st_mode)
                head = fh.read(4) if regular else b""
                zipped = unzipped(fh, status.st_size) if head == b"PK\x03\x04" else ""
            except BaseException:
                fh.close()
                raise
        except (OSError, ValueError) as err:  # ValueError: a path holding NUL
            raise error(f"cannot read the checkpoint {place}: {getattr(err, 'strerror', None) or err}") from None
        with fh:  # torch.load reads the file checked (the path opened again could be another by then)
            if not regular:
                raise error(f"cannot read the checkpoint {place}: it is not a regular file")
            # torch.save's zip archive; a legacy pickle, of protocol 2 or later, or 0 or 1 (its magic number in digits)
            if head[:4] != b"PK\x03\x04" and head[:1] != b"\x80" and head != b"L119":
                found = "it is empty" if not head else f"it starts with {head!r}"
                raise error(f"{place} is not a PyTorch checkpoint (torch.save writes a zip archive; {found})")
            try:  # the pickle's nesting, read before torch.load builds (and hashes) what it holds
                problem = zipped or nested(fh, status.st_size)
                if not problem:
                    fh.seek(0)
                    return torch.load(fh, map_location="cpu", weights_only=True)
            except Exception as err:  # torch.load raises many kinds for a damaged or unsafe file
                try:  # a pickle protocol torch's reader does not read is said so, not damage
                    saved = protocol(fh, status.st_size)
                except Exception:  # a zip damaged: torch's reason says so
                    saved = None
                raise error(unreadable(place, err, saved)) from None
            raise error(f"cannot read the checkpoint {place}: {problem}")

    if isinstance(state_dict, (str, bytes)) or hasattr(state_dict, "__fspath__"):  # a path: tensors only
        state_dict = read(state_dict)
    if isinstance(state_dict, dict) and isinstance(state_dict.get("state_dict"), dict):
        state_dict = state_dict["state_dict"]  # a Lightning checkpoint
    if not isinstance(state_dict, dict):
        raise error(f"a reference checkpoint is a mapping of names to tensors, found {type(state_dict).__name__}")
    # A rename's time grows with a key's length; the library's longest model key has 84 characters.
    long = [k for k in state_dict if isinstance(k, str) and len(k) > 1024]
    if long:
        lengths = listing(long, lambda k: f"{key(k)} ({len(k):,} characters)")
        raise error(f"a reference checkpoint's keys have at most 1,024 characters; nothing was loaded: {lengths}")
    # As written, or the keys that start with `prefix`, without it (a Lightning module's; TCN's own keys start with
    # `network.` too: the reading that names more of the model's keys). `network` names the component `network.`
    # when every key that starts with it goes on with a dot, which no model's key starts with.
    starting = [k for k in state_dict if prefix and isinstance(k, str) and k.startswith(prefix)]
    if starting and not prefix.endswith(".") and all(k.startswith(prefix + ".") for k in starting):
        prefix += "."
    ours = {
        k[len(prefix) :]: v for k, v in state_dict.items() if prefix and isinstance(k, str) and k.startswith(prefix)
    }
    named = [len({renamed(k) for k in entries} & own.keys()) for entries in (ours, state_dict)]
    if ours and (not any(k.startswith(prefix) for k in own) or named[0] > named[1]):
        state_dict = ours
    bad = [(k, v) for k, v in state_dict.items() if flaw(v) or not isinstance(k, str)]
    if bad:
        entries = listing(bad, lambda entry: f"{key(entry[0])} ({flaw(entry[1]) or 'Tensor'})")
        expanded = any(flaw(v).startswith("expanded") for v in state_dict.values())
        hint = ". An expanded tensor holds more elements than it stores: save it .contiguous()" if expanded else ""
        raise error(f"a reference checkpoint maps names (str) to tensors; entries that do not {entries}{hint}")
    for k, v in state_dict.items():
        new = renamed(k)
        # values are compared only at a key of the model's, of its shape: no more elements than the model has
        mismatched = new not in own or own[new].shape != v.shape  # reported below
        if new in converted and not (converted[new].shape == v.shape and (mismatched or same(converted[new], v))):
            first = next(s for s in state_dict if renamed(s) == new)
            raise error(
                f"reference keys collide after renaming: {key(first)} and {key(k)} hold different tensors and both "
                f"map to {key(new)}"
            )
        converted[new] = v
    missing, unexpected = sorted(own.keys() - converted.keys()), sorted(converted.keys() - own.keys())
    mismatched = sorted(
        f"{key(k)} (model {form(own[k])}, checkpoint {form(converted[k])})"
        for k in own.keys() & converted.keys()
        if kind(own[k]) != kind(converted[k])
    )
    problems = [f"shape or dtype mismatch {listing(mismatched)}"] if mismatched else []
    overflowing = []  # finite values the model's dtype makes infinite (float64's 1e300 in float32): load_state_dict's
    for k in sorted(own.keys() & converted.keys()):  # copy says nothing, and the model computes only inf and NaN
        a, b = own[k], converted[k]
        if kind(a) != kind(b) or a.dtype == b.dtype or not (a.is_floating_point() or a.is_complex()):
            continue
        wider = torch.finfo(a.dtype).max < torch.finfo(b.dtype).max  # else a's range holds b's
        lost = torch.isfinite(b) & ~torch.isfinite(b.to(a.dtype)) if wider else torch.zeros((), dtype=torch.bool)
        if count := int(lost.sum()):
            overflowing.append(
                f"{key(k)} ({count:,} finite {'value' if count == 1 else 'values'} of the checkpoint's "
                f"{str(b.dtype)[6:]}, up to {float(b[lost].abs().max()):.3g}, would be infinite in the model's "
                f"{str(a.dtype)[6:]})"
            )
    if overflowing:
        problems.append(f"values the model's dtype cannot hold {listing(overflowing)}")
    for what, keys in (("missing", missing), ("unexpected", unexpected)) if strict else ():
        if keys:
            problems.append(f"{what} {listing(keys, key)}")
    if problems:
        raise error(
            f"the reference checkpoint does not fit {name} after renaming; nothing was loaded: " + "; ".join(problems)
        )
    backup = {k: own[k].detach().clone() for k in converted.keys() & own.keys()}
    try:
        model.load_state_dict({k: converted[k] for k in backup}, strict=False)
    except Exception as err:
        current = model.state_dict()
        with torch.no_grad():  # in place, past the loading hooks that may have raised
            for k, value in backup.items():
                current[k].copy_(value)
        raise error(f"loading the reference checkpoint into {name} failed ({err}); the model was restored") from err
    return missing, unexpected
