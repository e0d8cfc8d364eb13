"""Fault class 8, nothing waits forever: every network read has a timeout and a clear message.

A local server on 127.0.0.1 plays the bad network: it accepts and says nothing, sends headers then
stalls, trickles, or hangs up mid-file; it stops itself after a few seconds whatever happens. Each test
is one case, through the API or the CLI as a user would meet it (``--download``, a stalled proxy).
"""
from __future__ import annotations

import contextlib
import fcntl
import os
import socket
import threading
import time
from pathlib import Path

import pytest
import torch

import fairdd
from fairdd.cli import main
from fairdd.data import sources
from fairdd.data.sources import fetch
from fairdd.results import DistillResult

BOUND_S = 8.0  # the server drops every connection after this, so a test can never hang on it


@contextlib.contextmanager
def bad_server(mode: str):
    """Yield ``http://127.0.0.1:<port>/`` served by a misbehaving server (``mode``), stopped on exit."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(8)
    srv.settimeout(0.2)
    stop = threading.Event()

    def handle(conn: socket.socket) -> None:
        with conn:
            conn.settimeout(1)
            with contextlib.suppress(OSError):
                conn.recv(65536)  # the request
                head = b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\nConnection: close\r\n\r\n"
                if mode in ("headers", "cut", "trickle"):
                    conn.sendall(head + b"x" * 10)
                if mode == "slow-headers":
                    conn.sendall(b"HTTP/1.1 200 OK\r\nX-Pad: ")
                if mode == "empty":
                    conn.sendall(b"HTTP/1.0 200 OK\r\n\r\n")
                if mode in ("cut", "empty"):
                    return
                end = time.monotonic() + BOUND_S
                while not stop.is_set() and time.monotonic() < end:
                    if mode in ("trickle", "slow-headers"):
                        conn.sendall(b"x")
                    stop.wait(0.1)

    def serve() -> None:
        end = time.monotonic() + 4 * BOUND_S
        while not stop.is_set() and time.monotonic() < end:
            with contextlib.suppress(socket.timeout, OSError):
                conn, _ = srv.accept()
                threading.Thread(target=handle, args=(conn,), daemon=True).start()
        srv.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{srv.getsockname()[1]}/"
    finally:
        stop.set()
        thread.join(5)


def _quick(monkeypatch, seconds: str = "0.5") -> None:
    monkeypatch.setenv("FAIRDD_NET_TIMEOUT", seconds)
    for var in ("http_proxy", "HTTP_PROXY", "no_proxy", "NO_PROXY"):
        monkeypatch.delenv(var, raising=False)


def _timed(fn):
    start = time.monotonic()
    try:
        fn()
    finally:
        assert time.monotonic() - start < BOUND_S / 2, "waited as long as the server allowed: no timeout"


def test_a_server_that_accepts_and_never_answers_times_out_naming_the_url(tmp_path, monkeypatch):
    _quick(monkeypatch)
    with bad_server("silent") as url:
        with pytest.raises(TimeoutError, match=rf"{url}a\.gz.*0\.5 s.*FAIRDD_NET_TIMEOUT"):
            _timed(lambda: fetch(url + "a.gz", tmp_path / "a.gz"))
    assert os.listdir(tmp_path) == []


def test_a_server_that_stalls_mid_file_times_out_and_leaves_no_partial_file(tmp_path, monkeypatch):
    _quick(monkeypatch)
    with bad_server("headers") as url:
        with pytest.raises(TimeoutError, match="sent nothing for 0.5 s"):
            _timed(lambda: fetch(url + "b.gz", tmp_path / "b.gz"))
    assert os.listdir(tmp_path) == []


def test_a_server_that_trickles_forever_hits_the_whole_file_deadline(tmp_path, monkeypatch):
    _quick(monkeypatch)
    with bad_server("trickle") as url:
        with pytest.raises(TimeoutError, match="not complete after 1 s"):
            _timed(lambda: fetch(url + "c.gz", tmp_path / "c.gz", deadline=1.0))
    assert os.listdir(tmp_path) == []


def test_a_server_that_hangs_up_mid_file_is_an_oserror_naming_the_url(tmp_path, monkeypatch):
    _quick(monkeypatch)
    with bad_server("cut") as url:
        with pytest.raises(OSError, match=rf"{url}d\.gz: the download broke off"):
            _timed(lambda: fetch(url + "d.gz", tmp_path / "d.gz"))
    assert os.listdir(tmp_path) == []


def test_nothing_listening_fails_at_once(tmp_path, monkeypatch):
    _quick(monkeypatch)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound, not listening: connections are refused
        with pytest.raises(OSError, match=f"127.0.0.1:{port}/e.gz"):
            _timed(lambda: fetch(f"http://127.0.0.1:{port}/e.gz", tmp_path / "e.gz"))


def test_download_through_a_stalled_proxy_times_out(tmp_path, monkeypatch):
    _quick(monkeypatch)
    with bad_server("silent") as proxy:
        monkeypatch.setenv("http_proxy", proxy)
        with pytest.raises(TimeoutError, match="example.invalid"):
            _timed(lambda: fetch("http://example.invalid/f.gz", tmp_path / "f.gz"))


def _no_mnist_anywhere(tmp_path, monkeypatch, mirror: str) -> None:
    monkeypatch.delenv("FAIRDD_DATA", raising=False)
    monkeypatch.setenv("FAIRDD_CACHE", str(tmp_path / "cache"))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setitem(sources._IDX_SETS["mnist"], "urls", (mirror,))


def test_dataset_download_from_a_stalled_mirror_names_the_set_and_the_url(tmp_path, monkeypatch):
    _quick(monkeypatch)
    with bad_server("headers") as url:
        _no_mnist_anywhere(tmp_path, monkeypatch, url)
        with pytest.raises(OSError, match=rf"could not download MNIST: {url}train-images-idx3-ubyte.gz sent nothing"):
            _timed(lambda: fairdd.datasets.load("colored-mnist", split="test", root=tmp_path / "mnist",
                                                download=True))
    assert not any(p.is_file() for p in (tmp_path / "mnist").rglob("*"))


def test_cli_download_from_a_stalled_mirror_is_one_line(tmp_path, monkeypatch, capsys):
    _quick(monkeypatch)
    with bad_server("silent") as url:
        _no_mnist_anywhere(tmp_path, monkeypatch, url)
        start = time.monotonic()
        code = main(["distill", "--dataset", "colored-mnist", "--download", "--preset", "smoke", "--ipc", "1",
                     "--device", "cpu", "--out", str(tmp_path / "res")])
        assert time.monotonic() - start < BOUND_S / 2
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and "Traceback" not in err, err
    assert "could not download MNIST" in err and "FAIRDD_NET_TIMEOUT" in err


@pytest.mark.parametrize("value", ["abc", "0", "-3", "inf", "nan"])
def test_a_bad_net_timeout_setting_is_refused_by_name(tmp_path, monkeypatch, value):
    monkeypatch.setenv("FAIRDD_NET_TIMEOUT", value)
    with pytest.raises(ValueError, match=rf"\$FAIRDD_NET_TIMEOUT must be a positive number of seconds; got '{value}'"):
        fetch("http://127.0.0.1:9/x", tmp_path / "x")


def test_a_saver_stuck_holding_a_result_folder_does_not_block_the_next_one_forever(tmp_path, monkeypatch):
    res = tmp_path / "res"
    res.mkdir()
    monkeypatch.setattr("fairdd.io.LOCK_TIMEOUT", 0.5)
    fd = os.open(res, os.O_RDONLY)  # another saver, stuck inside its save
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        with pytest.raises(TimeoutError, match=f"{res} is locked by another fairdd process"):
            _timed(lambda: DistillResult(torch.zeros(2, 3, 4, 4), torch.tensor([0, 1])).save(res))
    finally:
        os.close(fd)
    DistillResult(torch.zeros(2, 3, 4, 4), torch.tensor([0, 1])).save(res)  # once it lets go: fine
    assert Path(res / "config.json").is_file()


def test_a_server_that_trickles_its_headers_forever_hits_the_deadline(tmp_path, monkeypatch):
    _quick(monkeypatch)
    with bad_server("slow-headers") as url:
        with pytest.raises(TimeoutError, match="not complete after 1 s"):
            _timed(lambda: fetch(url + "g.gz", tmp_path / "g.gz", deadline=1.0))
    assert os.listdir(tmp_path) == []


def test_https_to_a_server_that_never_shakes_hands_times_out(tmp_path, monkeypatch):
    _quick(monkeypatch)
    with bad_server("silent") as url:
        with pytest.raises(TimeoutError, match="no answer in 0.5 s"):
            _timed(lambda: fetch(url.replace("http:", "https:") + "h.gz", tmp_path / "h.gz"))


def test_an_empty_answer_is_not_a_download(tmp_path, monkeypatch):
    _quick(monkeypatch)
    with bad_server("empty") as url:
        with pytest.raises(OSError, match="sent an empty file"):
            _timed(lambda: fetch(url + "i.gz", tmp_path / "i.gz"))
    assert os.listdir(tmp_path) == []
