"""The web chat (app.py): its page, the HTML it makes of real answers, and the served app driven
through gradio_client and headless Chromium. The UI listens on 127.0.0.1 only, opens no public share
link unless asked, and keeps serving its page while it answers."""

from __future__ import annotations

import os
import shutil
import socket
import sys
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import gradio as gr
import pytest
from conftest import ROOT, SEED_QUESTIONS, SEEDS, FakeGenerator, Server

from rag.answer import Pipeline
from rag.models import GENERATORS

sys.path.insert(0, str(ROOT))  # app.py is a script at the top of the repository, not part of the package
import app  # noqa: E402

IMPORTS = "How much refined oil did North Korea import in the first nine months of 2023?"
CAP = "How many barrels of refined oil may North Korea import per year under the U.N. cap?"
PRICE = "What price per barrel did North Korea pay for the Russian oil?"
CHROMIUM = Path("/usr/bin/chromium")
# Root needs --no-sandbox; the rest keep an offline Chromium from retrying connections to Google.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
HOSTILE_ARTICLE = """Harbour <b>report</b>: cod landings rise in Grimsby

by Jane Doe, Fishing Gazette, March 4, 2024 8:00 AM

The Grimsby Fish Board said fishermen landed 4,200 tonnes of cod at the port in 2023 <img src=x onerror=alert(1)> according to its annual report.

Board chair <script>alert("x")</script> Tom Smith said the season had been the best in a decade.
"""


# --- the page, without serving it ---------------------------------------------------------------


def blocks_of(demo: gr.Blocks, kind: type) -> list:
    return [block for block in demo.blocks.values() if isinstance(block, kind)]


def test_page_has_the_chat_the_controls_and_the_examples(tmp_path):
    demo = app.build_app(str(SEEDS), str(tmp_path / "index"))
    (chatbot,) = blocks_of(demo, gr.Chatbot)
    assert [example["text"] for example in chatbot.examples] == app.EXAMPLES
    assert {IMPORTS, CAP, PRICE} <= set(app.EXAMPLES)
    (model,) = blocks_of(demo, gr.Dropdown)
    assert [value for _, value in model.choices] == list(GENERATORS) and model.allow_custom_value
    (k,) = blocks_of(demo, gr.Slider)
    assert (k.minimum, k.value, k.precision) == (1, 5, 0)
    assert any(button.value == "Re-index the corpus" for button in blocks_of(demo, gr.Button))
    endpoints = {d["api_name"]: d["api_visibility"] for d in demo.get_config_file()["dependencies"]}
    assert endpoints["ask"] == endpoints["reindex"] == "public"
    assert not (tmp_path / "index").exists(), "building the page must not build the index or load a model"


def test_a_gguf_path_given_on_the_command_line_is_offered_next_to_the_bundled_models():
    assert app.model_choices("extractive") == list(GENERATORS)
    assert app.model_choices("/models/mine.gguf") == [*GENERATORS, "/models/mine.gguf"]


def test_serves_this_machine_only_and_shares_nothing_by_default_and_its_help_says_so(capsys):
    args = app.parse_args([])
    assert (args.host, args.port, args.share, args.model) == ("127.0.0.1", 7860, False, app.DEFAULT_GENERATOR)
    with pytest.raises(SystemExit) as exited:
        app.parse_args(["--help"])
    assert exited.value.code == 0
    usage = " ".join(capsys.readouterr().out.split())
    assert "--host HOST address to listen on; default: 127.0.0.1" in usage
    assert "--share also open a public gradio.live link (off by default" in usage


def test_empty_question_is_refused_at_the_textbox():
    refused = app.check_question("   \n ")
    assert refused["is_valid"] is False and "empty" in refused["message"]
    assert app.check_question("What did UPI report?")["is_valid"] is True


def test_missing_corpus_is_one_line_and_no_server(tmp_path, capsys):
    assert app.main(["--corpus", str(tmp_path / "nowhere"), "--index", str(tmp_path / "index"), "--port", "1"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: corpus directory not found") and "Traceback" not in err


# --- the HTML made of real answers (the real embedder, no generator model) ------------------------


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    """The seeds plus an article full of markup, as untrusted articles may be."""
    target = tmp_path_factory.mktemp("corpus") / "corpus"
    shutil.copytree(SEEDS, target)
    (target / "900_hostile.txt").write_text(HOSTILE_ARTICLE, encoding="utf-8")
    return target


@pytest.fixture(scope="module")
def index_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("index")


@pytest.fixture
def pipeline(corpus, index_dir, real_embedder):
    def make(generator=None) -> Pipeline:
        return Pipeline(corpus, index_dir, "extractive", embedder=real_embedder, generator=generator)

    return make


def test_conflict_is_a_warning_with_both_values_their_outlets_and_quotes(pipeline):
    answer = pipeline().ask(IMPORTS)
    html = app.render_answer(answer)
    warning = html[html.index('class="rag-notice rag-conflict"') : html.index("</section>")]
    for text in (
        "Sources disagree",
        "1.5 million barrels",
        "1.5 billion barrels",
        "UPI",
        "Kyiv Independent",
        "factor of 1,000",
    ):
        assert text in warning
    assert warning.count("<tr>") == 3  # the header and one row per source
    for row in answer.guard.conflicts[0].rows:
        assert f'href="#rag-source-{row.n}">[{row.n}]</a>' in warning
        assert f'id="rag-source-{row.n}"' in html, "each cited number has its card"
    assert html.count('class="rag-card"') == len(answer.citations) >= 2
    assert "<mark>" in html


def test_abstention_says_the_corpus_does_not_answer_and_shows_no_sources(pipeline):
    answer = pipeline().ask(PRICE)
    html = app.render_answer(answer)
    assert "The corpus does not answer this" in html and "Closest passages" in html
    assert "rag-card" not in html and "rag-conflict" not in html


def test_the_short_answer_leads_the_panel_and_a_model_cannot_add_a_number(pipeline):
    answer = pipeline(FakeGenerator("900,000")).ask(CAP)
    html = app.render_answer(answer)
    assert answer.guard.status == "ok" and "900,000" not in answer.text
    assert f"Answer: <b>{answer.short}</b>" in html and "500,000" in answer.short


def test_article_markup_is_shown_never_run(pipeline):
    answer = pipeline().ask("How many tonnes of cod were landed at Grimsby in 2023?")
    html, chat = app.render_answer(answer), app.chat_text(answer.text)
    assert any(c.source == "900_hostile.txt" for c in answer.citations)
    assert "&lt;img src=x onerror=alert(1)&gt;" in html and "<img" not in html
    assert "&lt;b&gt;report&lt;/b&gt;" in html and "<b>report" not in html
    assert "&lt;img" in chat and "<img" not in chat


def test_respond_shows_the_answer_then_the_checked_answer(pipeline):
    chat = app.Chat()
    chat.pipeline = lambda model: pipeline(FakeGenerator("500,000"))
    searching, read, (text, html, answer) = list(chat.respond(CAP, [], "fake", 5))
    assert read[0] == text == app.chat_text(answer["answer"]) and answer["mode"] == "model"
    assert answer["guard"]["status"] == "ok" and "500,000" in answer["short"]
    assert "Numbers checked" in html and "500,000 barrels" in html


def test_respond_shows_a_user_error_in_the_reply(pipeline):
    chat = app.Chat()
    chat.pipeline = lambda model: pipeline()
    *_, (text, html, answer) = chat.respond("   ", [], "extractive", 5)
    assert text.startswith("⚠ the question is empty") and "Cannot answer" in html and "empty" in answer["error"]


# --- the served app ---------------------------------------------------------------------------


def client(server: Server):
    from gradio_client import Client

    return Client(server.url, verbose=False)


def conflict_values(answer: dict) -> dict[str, str]:
    """Value text -> outlet, for every value of every conflict the guard reported."""
    return {row["text"]: row["outlet"] for conflict in answer["guard"]["conflicts"] for row in conflict["values"]}


def test_api_returns_the_answer_with_its_guard_result(served_app):
    text, html, answer = client(served_app).predict(IMPORTS, "extractive", 5, api_name="/ask")
    assert answer["question"] == IMPORTS and answer["guard"]["status"] == "conflict"
    assert conflict_values(answer) == {
        "more than 1.5 million barrels": "UPI",
        "more than 1.5 billion barrels": "Kyiv Independent",
    }
    assert text.startswith("Sources disagree") and "rag-conflict" in html


def test_api_reports_user_mistakes_as_messages(served_app):
    api = client(served_app)
    assert "the question is empty" in api.predict("  ", "extractive", 5, api_name="/ask")[2]["error"]
    assert "model file not found" in api.predict(IMPORTS, "/no/such/model.gguf", 5, api_name="/ask")[2]["error"]


def test_two_users_asking_at_once_both_get_their_own_answer(served_app):
    """Two clients, one real model: the queue runs both, the pipeline serialises the model calls."""

    def ask(question: str):
        job = client(served_app).submit(question, "smollm2", 5, api_name="/ask")
        return job.result(timeout=600), job.outputs()

    with ThreadPoolExecutor(2) as pool:
        (imports, imports_stream), (cap, cap_stream) = pool.map(ask, [IMPORTS, CAP])
    imports_answer, cap_answer = imports[2], cap[2]
    assert imports_answer["question"] == IMPORTS and cap_answer["question"] == CAP
    assert {"more than 1.5 million barrels", "more than 1.5 billion barrels"} <= set(conflict_values(imports_answer))
    assert "500,000 barrels" in cap_answer["answer"] and "1.5 billion" not in cap_answer["answer"]
    assert imports_answer["models"]["generator"] == cap_answer["models"]["generator"] == "smollm2"
    assert len(imports_stream) >= 3 and len(cap_stream) >= 3, "the answer shows before the checked answer"


def test_reindex_picks_up_a_new_article_and_its_markup_stays_text(served_app):
    api = client(served_app)
    added = served_app.corpus / "900_hostile.txt"
    added.write_text(HOSTILE_ARTICLE, encoding="utf-8")
    try:
        status = api.predict("extractive", api_name="/reindex")
        assert "<b>4</b> documents" in status and f"from {served_app.corpus.resolve()}" in status
        text, html, answer = api.predict(
            "How many tonnes of cod were landed at Grimsby in 2023?", "extractive", 5, api_name="/ask"
        )
        assert "4,200 tonnes" in answer["answer"]
        assert "<img" not in html + text and "&lt;img src=x onerror=alert(1)&gt;" in html
    finally:
        added.unlink()
    assert "<b>3</b> documents" in api.predict("extractive", api_name="/reindex")


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


def test_ui_listens_on_127_0_0_1_only_and_opens_no_share_link(served_app):
    assert listening_addresses(served_app.port) == {"127.0.0.1"}
    log = served_app.log.read_text()
    assert "gradio.live" not in log and "Running on public URL" not in log


def test_ui_page_answers_while_the_model_answers_several_users(served_app):
    """Functional, not a benchmark: the bound is generous; what matters is the page is not queued behind answers."""
    questions = SEED_QUESTIONS[:4]
    jobs = [client(served_app).submit(q, "smollm2", 5, api_name="/ask") for q in questions]
    page_times, busy = [], []
    while not all(job.done() for job in jobs):
        began = time.monotonic()
        with urllib.request.urlopen(served_app.url, timeout=10) as page:
            assert page.status == 200 and b"<html" in page.read(2000).lower()
        page_times.append(time.monotonic() - began)
        busy.append(not all(job.done() for job in jobs))
        time.sleep(0.5)
    assert any(busy), "the answers finished before the page was fetched: nothing was measured"
    assert max(page_times) < 10
    answers = [job.result(timeout=600)[2] for job in jobs]
    assert [a["question"] for a in answers] == questions
    assert "500,000" in answers[0]["answer"] and answers[1]["guard"]["status"] == "conflict"


# --- the page in a browser --------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        reason = f"{CHROMIUM} is missing: apt-get install chromium (Debian's build; no browser download)"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, served_app):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(served_app.url)
    yield page
    page.close()


@pytest.mark.browser
def test_browser_shows_examples_and_refuses_an_empty_question(page):
    from playwright.sync_api import expect

    for question in app.EXAMPLES:
        expect(page.get_by_text(question)).to_be_visible()
    expect(page.locator("#rag-status")).to_contain_text("3 documents", timeout=60_000)
    box = page.locator("#rag-question textarea")
    box.fill("   ")
    box.press("Enter")
    expect(page.get_by_text("the question is empty")).to_be_visible()
    expect(page.locator("#rag-chat .message-row")).to_have_count(0)


@pytest.mark.browser
def test_browser_shows_a_conflict_with_both_values_and_outlets(page):
    from playwright.sync_api import expect

    box = page.locator("#rag-question textarea")
    box.fill(IMPORTS)
    box.press("Enter")
    warning = page.locator(".rag-conflict")
    expect(warning).to_be_visible(timeout=120_000)
    for text in ("Sources disagree", "1.5 million", "1.5 billion", "UPI", "Kyiv Independent", "factor of 1,000"):
        expect(warning).to_contain_text(text)
    expect(warning.locator("tr")).to_have_count(3)  # the header and one row per source
    expect(page.locator("#rag-chat")).to_contain_text("Sources disagree")
    cited = warning.locator('a[href^="#rag-source-"]').evaluate_all("links => links.map(a => a.getAttribute('href'))")
    assert len(set(cited)) >= 2, cited  # each source's row links to its card
    for target in set(cited):
        card = page.locator(target)
        expect(card).to_be_visible()
        expect(card).to_have_class("rag-card")
    expect(page.locator(".rag-card mark").first).to_be_visible()  # the quoted figure is highlighted
