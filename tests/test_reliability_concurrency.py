"""Many questions at once: eight threads calling `ask` get the answers they would get alone, the
model is used by one thread at a time, and the web UI keeps serving its page while it answers. The UI
listens on 127.0.0.1 only and opens no public share link unless asked."""

import json
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from conftest import ROOT, SEED_QUESTIONS, FakeGenerator, running_app

import rag.index
from rag import ask
from rag.answer import Answer, Pipeline, get_pipeline

THREADS = 8


def comparable(answer: Answer) -> str:
    """Everything an answer shows except how long it took."""
    shown = answer.to_dict()
    del shown["timings"]
    return json.dumps(shown, sort_keys=True)


def all_at_once(work, items: list) -> list:
    """Run `work` on every item in its own thread, all released at the same moment."""
    start = threading.Barrier(len(items))

    def run(item):
        start.wait()
        return work(item)

    with ThreadPoolExecutor(len(items)) as pool:
        return list(pool.map(run, items))


class Overlap:
    """Wraps methods of an object (until the test ends) and records how often they were called and the
    most threads ever inside them at once."""

    def __init__(self, monkeypatch, target, names: list[str]):
        self.inside = self.most = self.calls = 0
        self._lock = threading.Lock()
        for name in names:
            monkeypatch.setattr(target, name, self._counting(getattr(target, name)))

    def _counting(self, method):
        def counted(*args, **kwargs):
            with self._lock:
                self.calls += 1
                self.inside += 1
                self.most = max(self.most, self.inside)
            try:
                return method(*args, **kwargs)
            finally:
                with self._lock:
                    self.inside -= 1

        return counted


@pytest.mark.parametrize("shared", [True, False], ids=["one-shared-pipeline", "a-pipeline-per-thread"])
def test_eight_threads_on_a_cold_index_get_the_answers_they_would_get_alone(
    seed_corpus, tmp_path, fake_embedder, monkeypatch, shared
):
    """No index yet: the first question builds it while the others wait, and nobody reads a half-built one."""
    builds = Overlap(monkeypatch, rag.index, ["update_index"])
    reply = "500,000"  # the candidate the fake model prefers
    pipeline = Pipeline(seed_corpus, tmp_path / "index", embedder=fake_embedder, generator=FakeGenerator(reply))

    def pipeline_for_thread() -> Pipeline:
        return (
            pipeline
            if shared
            else Pipeline(seed_corpus, tmp_path / "index", embedder=fake_embedder, generator=FakeGenerator(reply))
        )

    questions = [SEED_QUESTIONS[i % len(SEED_QUESTIONS)] for i in range(THREADS)]
    # The first round finds no index; the later ones share the loaded one (and give a race more chances).
    rounds = [all_at_once(lambda q: comparable(pipeline_for_thread().ask(q)), questions) for _ in range(5)]
    alone = Pipeline(seed_corpus, tmp_path / "index", embedder=fake_embedder, generator=FakeGenerator(reply))
    expected = [comparable(alone.ask(q)) for q in questions]
    assert all(together == expected for together in rounds)
    assert len(list((tmp_path / "index").glob("gen-*"))) == 1
    if shared:
        assert builds.calls == 1, "one pipeline builds its index once, however many threads ask"


@pytest.mark.integration
def test_eight_threads_asking_the_real_model_get_the_single_threaded_answers(seeds, monkeypatch):
    corpus, index = seeds
    settings = {"model": "smollm2", "corpus_dir": corpus, "index_dir": index}
    alone = {q: comparable(ask(q, **settings)) for q in SEED_QUESTIONS}
    assert any('"mode": "model"' in a for a in alone.values()), "the model answered none of the questions"
    llm = get_pipeline(corpus, index, "smollm2").generator.llm
    overlap = Overlap(monkeypatch, llm, ["tokenize", "eval"])
    questions = [SEED_QUESTIONS[i % len(SEED_QUESTIONS)] for i in range(THREADS)]
    together = all_at_once(lambda q: comparable(ask(q, **settings)), questions)
    assert together == [alone[q] for q in questions]
    assert overlap.most == 1, "two threads used the model at the same time"


# --- the web UI ---------------------------------------------------------------------------------


def listening_addresses(port: int) -> set[str]:
    """Local addresses with a listening TCP socket on `port`, read from /proc (no tools needed)."""
    found = set()
    for table, width in (("/proc/net/tcp", 8), ("/proc/net/tcp6", 32)):
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, hex_port = local.split(":")
            if state == "0A" and int(hex_port, 16) == port:  # 0A: LISTEN
                raw = bytes.fromhex(address)
                words = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))  # kernel words are little-endian
                found.add(socket.inet_ntop(socket.AF_INET if width == 8 else socket.AF_INET6, words))
    return found


@pytest.fixture(scope="module")
def server(seeds):
    """`python app.py` with its defaults, on a free port, over the seeds."""
    corpus, index = seeds
    log = index.parent / "app.log"
    with running_app(corpus, index, log) as (url, port):
        yield url, port, log


def test_ui_help_says_it_serves_this_machine_only_and_shares_nothing():
    result = subprocess.run(
        [sys.executable, str(ROOT / "app.py"), "--help"], capture_output=True, text=True, timeout=120, cwd=ROOT
    )
    assert result.returncode == 0, result.stderr
    usage = " ".join(result.stdout.split())
    assert "--host HOST address to listen on; default: 127.0.0.1" in usage
    assert "--share also open a public gradio.live link (off by default" in usage


@pytest.mark.integration
def test_ui_listens_on_127_0_0_1_only_and_opens_no_share_link(server):
    url, port, log = server
    assert listening_addresses(port) == {"127.0.0.1"}
    assert "gradio.live" not in log.read_text() and "Running on public URL" not in log.read_text()


@pytest.mark.integration
def test_ui_page_answers_while_the_model_answers_several_users(server):
    """Functional, not a benchmark: the bound is generous; what matters is the page is not queued behind answers."""
    from gradio_client import Client

    url, _, _ = server
    questions = SEED_QUESTIONS[:4]
    jobs = [Client(url, verbose=False).submit(q, "smollm2", 5, api_name="/ask") for q in questions]
    page_times, busy = [], []
    while not all(job.done() for job in jobs):
        began = time.monotonic()
        with urllib.request.urlopen(url, timeout=10) as page:
            assert page.status == 200 and b"<html" in page.read(2000).lower()
        page_times.append(time.monotonic() - began)
        busy.append(not all(job.done() for job in jobs))
        time.sleep(0.5)
    assert any(busy), "the answers finished before the page was fetched: nothing was measured"
    assert max(page_times) < 10
    answers = [job.result(timeout=600)[2] for job in jobs]
    assert [a["question"] for a in answers] == questions
    assert "500,000" in answers[0]["answer"] and answers[1]["guard"]["status"] == "conflict"
