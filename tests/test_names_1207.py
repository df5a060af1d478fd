"""Two paths no OS call can take, and stream names in a pid namespace.

1. ``/dev/fd/1`` and ``/proc/self/fd/1`` are the stream whatever pid /proc shows: resolved first, they became
   ``/proc/<pid as /proc sees it>/fd/1``, which is not ``os.getpid()`` in a pid namespace sharing the host's /proc
   (``unshare -p``, a sandbox), and ``-o /dev/fd/1 >> log`` replaced the log (``/dev/fd/0``: the file on standard
   input) where it appended.
2. A ``specPath`` folder holding a lone surrogate (valid JSON) is left off with a message, as one holding a NUL is:
   os.scandir raised UnicodeEncodeError, and every check of a document was an internal error.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import pytest

from vibench.compiler import descriptor_names
from vibench.lsp.server import _configure, create_server
from vibench.lsp.settings import usable_path

linux = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc/self/fd is Linux's")


@linux
@pytest.mark.parametrize(("name", "number"), [("/dev/fd/1", 1), ("/proc/self/fd/1", 1), ("/dev/fd/0", 0),
                                              ("/proc/thread-self/fd/2", 2), ("/dev/stdout", 1)])
def test_a_stream_name_is_the_stream_in_a_pid_namespace(monkeypatch: pytest.MonkeyPatch, name: str,
                                                        number: int) -> None:
    monkeypatch.setattr(os, "getpid", lambda: 1)  # as in `unshare -p -f` without a new /proc
    assert descriptor_names.descriptor(name) == number


@linux
def test_a_folder_link_to_the_descriptors_in_a_pid_namespace(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / "fds").symlink_to("/proc/self/fd")
    monkeypatch.setattr(os, "getpid", lambda: 1)
    assert descriptor_names.descriptor(str(tmp_path / "fds" / "1")) == 1
    assert descriptor_names.descriptor(str(tmp_path / "plain.py")) is None


@pytest.mark.parametrize(("path", "usable"), [("/tmp/x", True), ("/tmp/\udcffx", True), ("/tmp/\ud800x", False),
                                              ("/tmp/a\x00b", False)])
def test_which_paths_the_os_takes(path: str, usable: bool) -> None:
    assert usable_path(path) is usable  # `\udcff` is a byte the file system encoding writes (surrogateescape)


def test_a_spec_path_folder_holding_a_lone_surrogate_is_left_off_with_a_message(tmp_path: Path) -> None:
    ls = create_server([])
    shown: list[Any] = []
    ls.window_show_message = shown.append  # type: ignore[method-assign]
    _configure(ls, {"specPath": ["/tmp/\ud800x", str(tmp_path)]})
    assert ls.catalog.search_path == [str(tmp_path)]
    assert len(shown) == 1 and "lone surrogate" in shown[0].message
    assert "cnn/ResNet1D" in ls.catalog.templates()  # os.scandir raised UnicodeEncodeError here
    ls._checker.shutdown(wait=True)
