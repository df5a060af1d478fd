"""The language server's checker thread reads saved files without waiting on a FIFO."""

from __future__ import annotations

import os
import threading

import pytest

from vibench.lsp import checking


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
def test_saved_text_of_a_fifo_is_none_without_waiting_for_a_writer(tmp_path):
    fifo = tmp_path / "spec.yaml"
    os.mkfifo(fifo)
    got: list[object] = []
    reader = threading.Thread(target=lambda: got.append(checking._saved_text(str(fifo))), daemon=True)
    reader.start()
    reader.join(30)
    if reader.is_alive():  # free the blocked open so the daemon thread ends with the test
        with open(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK), "wb"):
            pass
    assert got == [None]


def test_saved_text_reads_utf8_without_bom_and_refuses_other_bytes(tmp_path):
    good = tmp_path / "good.yaml"
    good.write_bytes(b"\xef\xbb\xbfname: M\r\n")
    bad = tmp_path / "bad.yaml"
    bad.write_bytes(b"name: \xff\n")
    assert checking._saved_text(str(good)) == "name: M\r\n"
    assert checking._saved_text(str(bad)) is None
    assert checking._saved_text(str(tmp_path)) is None
    assert checking._saved_text(str(tmp_path / "missing.yaml")) is None
    assert checking._read_source(str(bad)) == "name: \ufffd\n"
