"""The web chat: `python app.py` serves a Gradio chat over the `ask` pipeline on http://127.0.0.1:7860.

A thin layer: the pipeline retrieves, answers and runs the numeric guard; this module streams its
draft into the chat, then shows the checked `Answer` — the guard's verdict and the numbered sources —
as HTML. Article text is untrusted, so every piece of it is escaped before it reaches the page.

    python app.py [--host 127.0.0.1] [--port 7860] [--corpus DIR] [--index index] [--model NAME|PATH] [--share]
"""

from __future__ import annotations

import argparse
import os
import sys
import textwrap
from collections.abc import Iterator
from html import escape

# An offline tool: no telemetry or version check calling home (read when gradio starts).
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import gradio as gr  # noqa: E402

from rag.answer import (
    DEFAULT_INDEX,
    Answer,
    Citation,
    Pipeline,
    build_index,
    clean_question,
    get_pipeline,
)  # noqa: E402
from rag.cli import CORPUS_HELP  # noqa: E402
from rag.errors import QuestionError, RagError  # noqa: E402
from rag.guard import Conflict, GuardRow  # noqa: E402
from rag.models import DEFAULT_GENERATOR, GENERATORS  # noqa: E402
from rag.retrieval import DEFAULT_K  # noqa: E402

# Model calls are serialised inside the pipeline; more workers let one user's retrieval and checks
# run while another's answer is generated, and keep a waiting user's request from looking stuck.
CONCURRENCY = 4
MAX_K = 10
EXAMPLES = [
    "How much refined oil did North Korea import in the first nine months of 2023?",
    "How many barrels of refined oil may North Korea import per year under the U.N. cap?",
    "When did the Enhanced Disruption Task Force hold its first meeting?",
    "What price per barrel did North Korea pay for the Russian oil?",
]
MODES = {
    "model": "a model chose among the sources' candidates",
    "extractive": "the learned ranker chose among the sources' candidates",
    "abstain": "no answer in the corpus",
}
EMPTY_PANEL = '<div class="rag-empty">The sources of each answer, and the check of its numbers, appear here.</div>'


# --- the evidence panel -------------------------------------------------------------------------


def render_answer(answer: Answer) -> str:
    """The panel under the chat: the guard's verdict first (it changes how the answer reads), then
    the numbered sources the answer cites, then how the answer was made."""
    parts = [f'<div class="rag-asked">Sources and checks for <q>{escape(answer.question)}</q></div>']
    if answer.short:
        parts.append(f'<div class="rag-short">Answer: <b>{escape(answer.headline)}</b></div>')
    parts += guard_notices(answer)
    if answer.citations:
        parts.append('<div class="rag-sources">' + "".join(source_card(c, answer) for c in answer.citations) + "</div>")
    parts.append(answer_footer(answer))
    return '<div class="rag-panel">' + "".join(parts) + "</div>"


def guard_notices(answer: Answer) -> list[str]:
    """A notice for each thing the guard found; one line of reassurance when it found nothing wrong."""
    guard = answer.guard
    notices = []
    if answer.abstained:
        notices.append(
            notice(
                "abstain", "The corpus does not answer this", f"<p>{escape(answer.text)}</p>" + closest_passages(answer)
            )
        )
    if guard.conflicts:
        scale = "".join(
            f'<p class="rag-scale">For scale, {escape(row.label)} {cite(row.n)} says: {quoted(row)}</p>'
            for row in guard.bounds
        )
        notices.append(
            notice("conflict", "Sources disagree", "".join(conflict_table(c) for c in guard.conflicts) + scale)
        )
    if guard.unsupported:
        stated = ", ".join(f"<b>{escape(number)}</b>" for number in guard.unsupported)
        notices.append(
            notice(
                "unsupported",
                "Unsupported number",
                f"<p>The model's draft stated {stated}, which no passage it cited says; "
                "the draft was replaced by the quoted evidence.</p>",
            )
        )
    if not notices and guard.values:
        checked = "".join(
            f'<span class="rag-chip">{escape(row.text)} · {escape(row.label)} {cite(row.n)}</span>'
            for row in guard.values
        )
        notices.append(
            notice(
                "ok",
                "Numbers checked: the sources agree",
                f"<p>Each figure is stated by a cited passage, and no retrieved source gives another value.</p><p>{checked}</p>",
            )
        )
    return notices


def notice(kind: str, title: str, body: str) -> str:
    return f'<section class="rag-notice rag-{kind}"><h3>{escape(title)}</h3>{body}</section>'


def conflict_table(conflict: Conflict) -> str:
    """One row per source: the value it gives, who says it, the citation and the sentence."""
    rows = "".join(
        f'<tr><td class="rag-value">{escape(row.text)}</td><td>{escape(row.label)}</td><td>{cite(row.n)}</td><td>{quoted(row)}</td></tr>'
        for row in conflict.rows
    )
    return (
        f'<p class="rag-description">{escape(conflict.description)}</p>'
        f'<table class="rag-values"><thead><tr><th>Value</th><th>Outlet</th><th>Source</th><th>Quote</th></tr></thead>'
        f"<tbody>{rows}</tbody></table>"
    )


def quoted(row: GuardRow) -> str:
    """The sentence stating a value, the value itself marked."""
    start = row.quote.find(row.text)
    return "“" + highlight(row.quote, start, start + len(row.text)) + "”"


def cite(n: int | None) -> str:
    return f'<a class="rag-cite" href="#rag-source-{n}">[{n}]</a>' if n else ""


def source_card(citation: Citation, answer: Answer) -> str:
    """A numbered source: outlet, title and date, and its passage with the quoted span marked."""
    passage = answer.passages[citation.n - 1]
    start = citation.start - passage.start
    if citation.passage[start : start + len(citation.quote)] != citation.quote:
        start = -1  # offsets that do not point at the quote: show the passage unmarked
    meta = " · ".join(escape(part) for part in (citation.label, citation.date or "undated") if part)
    return (
        f'<article class="rag-card" id="rag-source-{citation.n}">'
        f'<header><span class="rag-n">{citation.n}</span><span class="rag-meta">{meta}</span></header>'
        f'<div class="rag-title">{escape(citation.title or citation.source)}</div>'
        f'<p class="rag-passage">{highlight(citation.passage, start, start + len(citation.quote))}</p>'
        f"<footer>{escape(citation.source)}, characters {citation.start}–{citation.end}</footer></article>"
    )


def highlight(text: str, start: int, end: int) -> str:
    """`text` escaped, with text[start:end] in <mark> (nothing marked when start is -1)."""
    if start < 0:
        return escape(text)
    return f"{escape(text[:start])}<mark>{escape(text[start:end])}</mark>{escape(text[end:])}"


def closest_passages(answer: Answer) -> str:
    """What the search found, so a reader sees the corpus was searched and what it holds instead."""
    if not answer.passages:
        return ""
    items = "".join(
        f"<li><b>{escape(p.label)}</b>, {escape(p.date or 'undated')}: {escape(textwrap.shorten(p.text, 160))}</li>"
        for p in answer.passages[:3]
    )
    return f"<p>Closest passages (none answers the question):</p><ul>{items}</ul>"


def answer_footer(answer: Answer) -> str:
    """How the answer was made, and the pipeline's notes."""
    facts = [
        f"answer: {MODES.get(answer.mode, answer.mode)}",
        f"model: {answer.models['generator']}",
        f"guard: {answer.guard.status}",
        f"as of {answer.as_of}",
        f"{answer.timings.get('total_s', 0):.2f} s",
    ]
    notes = "".join(f"<li>{escape(note)}</li>" for note in answer.notes)
    return (
        f'<footer class="rag-footer">{escape(" · ".join(facts))}' + (f"<ul>{notes}</ul>" if notes else "") + "</footer>"
    )


def render_status(status: dict, models: dict[str, str]) -> str:
    """The index status line: what is searched, with which models, and since when."""
    return (
        '<div class="rag-status">'
        f"<div><b>{status['documents']}</b> documents · <b>{status['chunks']}</b> chunks</div>"
        f"<div>from {escape(status['corpus'] or 'a corpus not recorded')}</div>"
        f"<div>built {escape(str(status['built_at']).replace('T', ' '))}</div>"
        f"<div>embeddings: {escape(models['embedder'])}</div>"
        f"<div>answers: {escape(models['generator'])}</div></div>"
    )


def render_problem(message: str) -> str:
    return f'<div class="rag-status rag-problem">{escape(message)}</div>'


def chat_text(text: str) -> str:
    """Text for the chat bubble: markup in an article or a reply is shown, never interpreted."""
    return escape(text, quote=False)


# --- the event handlers -------------------------------------------------------------------------


def check_question(message: str) -> dict:
    """Refuse an unusable question at the textbox, with the pipeline's own reason, before it is sent."""
    try:
        clean_question(message)
    except QuestionError as exc:
        return gr.validate(False, str(exc))
    return gr.validate(True, "")


class Chat:
    """The handlers behind the page, bound to one corpus and index directory."""

    def __init__(self, corpus_dir: str | None = None, index_dir: str = DEFAULT_INDEX):
        self.corpus_dir = corpus_dir
        self.index_dir = index_dir

    def pipeline(self, model: str | None) -> Pipeline:
        """The cached pipeline for a model: each model is loaded once per process, on first use."""
        return get_pipeline(self.corpus_dir, self.index_dir, model or None)

    def respond(self, message: str, history: list, model: str, k: int, as_of: str | None = None) -> Iterator[tuple]:
        """Show the answer in the chat as soon as it is read, then the checked answer and its panel.
        `as_of` is the day the question is asked ("YYYY-MM-DD"; empty: today)."""
        yield "*Searching the articles…*", EMPTY_PANEL, None
        try:
            draft = ""
            for piece in self.pipeline(model).stream(message, k=k, as_of=as_of or None):
                if isinstance(piece, Answer):
                    yield chat_text(piece.text), render_answer(piece), piece.to_dict()
                else:
                    draft += piece
                    yield chat_text(draft), gr.skip(), gr.skip()
        except RagError as exc:
            # In the reply, not as gr.Error: an error event leaves ChatInterface's textbox disabled.
            yield (
                f"⚠ {chat_text(str(exc))}",
                notice("problem", "Cannot answer", f"<p>{escape(str(exc))}</p>"),
                {"error": str(exc)},
            )

    def status(self, model: str) -> str:
        """The status line; a model or index problem is shown in its place instead of failing the page."""
        try:
            pipeline = self.pipeline(model)
            return render_status(pipeline.index.status(), pipeline.models)
        except RagError as exc:
            gr.Warning(str(exc))
            return render_problem(str(exc))

    def reindex(self, model: str, progress=gr.Progress(track_tqdm=True)) -> str:
        """Rebuild the index from the corpus folder (only new or changed files are embedded)."""
        progress(0, desc="Reading the corpus")
        try:
            report = build_index(self.corpus_dir, self.index_dir, progress=True)
        except RagError as exc:
            raise gr.Error(str(exc), title="Cannot index", print_exception=False) from None
        gr.Info(
            f"Indexed in {report.seconds:.1f} s: {len(report.embedded)} files embedded, {len(report.reused)} reused, "
            f"{len(report.removed)} removed, {len(report.skipped)} skipped."
        )
        return self.status(model)


# --- the page -----------------------------------------------------------------------------------


def model_choices(model: str) -> list[str]:
    """The bundled generators, plus the model given on the command line when it is a GGUF path."""
    return list(GENERATORS) if model in GENERATORS else [*GENERATORS, model]


def build_app(
    corpus_dir: str | None = None, index_dir: str = DEFAULT_INDEX, model: str = DEFAULT_GENERATOR
) -> gr.Blocks:
    """The page, without launching it (tests inspect it; `main` serves it)."""
    chat = Chat(corpus_dir, index_dir)
    with gr.Blocks(title="rag — ask the articles") as page:
        with gr.Sidebar(label="Settings"):
            gr.Markdown("### Settings")
            model_box = gr.Dropdown(
                model_choices(model),
                value=model,
                label="Model",
                allow_custom_value=True,
                info="smollm2 and gemma3-270m are small local models; extractive quotes the evidence without one. "
                "Or type the path of any .gguf file.",
            )
            k_box = gr.Slider(1, MAX_K, value=DEFAULT_K, step=1, precision=0, label="Passages to retrieve (k)")
            as_of_box = gr.DateTime(
                include_time=False,
                type="string",
                label="As of",
                info="The day the question is asked: articles published after it are left out, and "
                "'this week' means the week before it. Empty: today.",
                elem_id="rag-as-of",
            )
            gr.Markdown("### Index")
            status_box = gr.HTML('<div class="rag-status">Opening the index…</div>', elem_id="rag-status")
            reindex_button = gr.Button("Re-index the corpus", variant="secondary")
        gr.Markdown(
            "## Ask the articles\nOffline answers from the news articles in the corpus, each with its numbered sources. "
            "Every figure is checked: **when sources disagree, you see both**."
        )
        panel = gr.HTML(EMPTY_PANEL, label="Sources and checks", elem_id="rag-panel", render=False)
        answer_json = gr.JSON(label="Answer as JSON", render=False)
        gr.ChatInterface(
            chat.respond,
            chatbot=gr.Chatbot(
                label="Answers",
                elem_id="rag-chat",
                height=380,
                buttons=["copy"],
                placeholder="**Ask a question about the articles**, or start from an example:",
            ),
            textbox=gr.Textbox(
                label="Question",
                placeholder="Ask a question about the articles…",
                elem_id="rag-question",
                submit_btn=True,
                stop_btn=True,
            ),
            validator=check_question,
            additional_inputs=[model_box, k_box, as_of_box],
            additional_outputs=[panel, answer_json],
            examples=[[question, None, None, None] for question in EXAMPLES],
            api_name="ask",
            api_description="Answer a question from the corpus. Returns the chat text, the sources-and-guard HTML and the Answer as JSON "
            '(with its guard report), or {"error": message} for a question or model that cannot be used.',
            fill_height=False,
        )
        panel.render()
        with gr.Accordion("Answer as JSON (what rag ask --json prints)", open=False):
            answer_json.render()
        page.load(chat.status, model_box, status_box, api_visibility="private")
        model_box.change(chat.status, model_box, status_box, api_visibility="private")
        reindex_button.click(chat.reindex, model_box, status_box, api_name="reindex")
    return page


CSS = """
.rag-panel, .rag-empty, .rag-status { font-size: 0.95rem; line-height: 1.45; }
.rag-short { font-size: 1.1rem; margin: 0.25rem 0; }
.rag-empty { color: var(--body-text-color-subdued); padding: 0.5rem 0; }
.rag-asked { color: var(--body-text-color-subdued); margin: 0.25rem 0 0.75rem; }
.rag-notice { border: 1px solid; border-left-width: 6px; border-radius: 8px; padding: 0.75rem 1rem; margin-bottom: 0.9rem; }
.rag-notice h3 { margin: 0 0 0.4rem; font-size: 1.05rem; }
.rag-notice p { margin: 0.3rem 0; }
.rag-conflict { border-color: #dc2626; background: rgba(220, 38, 38, 0.08); }
.rag-conflict h3::before { content: "⚠ "; }
.rag-conflict h3 { color: #b91c1c; }
.rag-unsupported { border-color: #d97706; background: rgba(217, 119, 6, 0.09); }
.rag-unsupported h3::before { content: "⚠ "; }
.rag-problem { color: #b91c1c; border-color: #dc2626; }
.rag-abstain { border-color: #64748b; background: rgba(100, 116, 139, 0.10); }
.rag-ok { border-color: #16a34a; background: rgba(22, 163, 74, 0.07); }
.rag-ok h3::before { content: "✓ "; }
#rag-panel .rag-values { width: 100%; border-collapse: collapse; margin: 0.5rem 0; }
#rag-panel .rag-values, #rag-panel .rag-values tr, #rag-panel .rag-values th, #rag-panel .rag-values td { border: 0; }
#rag-panel .rag-values th, #rag-panel .rag-values td { padding: 0.45rem 0.6rem; border-bottom: 1px solid rgba(127, 127, 127, 0.25); vertical-align: top; }
.rag-values th { text-align: left; font-size: 0.8rem; text-transform: uppercase; letter-spacing: 0.03em; opacity: 0.75; }
.rag-value { font-weight: 700; font-size: 1.1rem; white-space: nowrap; }
.rag-description { font-weight: 600; }
.rag-scale { font-size: 0.9rem; opacity: 0.85; }
.rag-chip { display: inline-block; border: 1px solid rgba(127, 127, 127, 0.35); border-radius: 999px; padding: 0.1rem 0.6rem; margin: 0.15rem 0.3rem 0.15rem 0; font-size: 0.88rem; }
.rag-cite { font-weight: 600; text-decoration: none; }
.rag-sources { display: grid; grid-template-columns: repeat(auto-fill, minmax(300px, 1fr)); gap: 0.75rem; margin-bottom: 0.75rem; }
.rag-card { border: 1px solid var(--border-color-primary); border-radius: 8px; padding: 0.7rem 0.9rem; background: var(--block-background-fill); }
.rag-card header { display: flex; align-items: center; gap: 0.5rem; }
.rag-n { display: inline-flex; align-items: center; justify-content: center; min-width: 1.6rem; height: 1.6rem; border-radius: 999px;
         background: var(--color-accent); color: white; font-weight: 700; font-size: 0.85rem; }
.rag-meta { font-weight: 600; }
.rag-title { margin: 0.35rem 0; font-style: italic; }
.rag-passage { white-space: pre-line; margin: 0.3rem 0; font-size: 0.9rem; }
.rag-card footer, .rag-footer { font-size: 0.8rem; color: var(--body-text-color-subdued); }
.rag-footer ul { margin: 0.25rem 0 0 1.2rem; }
mark { background: rgba(250, 204, 21, 0.55); color: inherit; padding: 0 0.1rem; border-radius: 3px; }
.rag-status div { margin: 0.1rem 0; }
"""


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="app.py", description="The web chat over the articles, on http://HOST:PORT.")
    parser.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on; default: %(default)s (this machine only; 0.0.0.0 serves the network)",
    )
    parser.add_argument("--port", type=int, default=7860, help="default: %(default)s")
    parser.add_argument("--corpus", default=None, metavar="DIR", help=CORPUS_HELP)
    parser.add_argument("--index", default=DEFAULT_INDEX, metavar="DIR", help="index directory; default: %(default)s")
    parser.add_argument(
        "--model",
        default=DEFAULT_GENERATOR,
        metavar="NAME|PATH",
        help=f"{', '.join(GENERATORS)}, or a .gguf file; default: %(default)s",
    )
    parser.add_argument(
        "--share",
        action="store_true",
        help="also open a public gradio.live link (off by default: questions stay on this machine)",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        # Build or update the index now: a wrong folder fails here, in one line, not on the first question.
        status = get_pipeline(args.corpus, args.index, args.model).index.status()
    except RagError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"index: {status['documents']} documents, {status['chunks']} chunks in {args.index}", flush=True)
    page = build_app(args.corpus, args.index, args.model).queue(default_concurrency_limit=CONCURRENCY)
    try:
        page.launch(server_name=args.host, server_port=args.port, share=args.share, css=CSS)
    except OSError as exc:  # the port is taken, or the host is not this machine's
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
