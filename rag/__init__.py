"""Offline question answering over news articles that never hides a disagreement between sources.

    from rag import ask

    answer = ask("How much refined oil did North Korea import in the first nine months of 2023?")
    print(answer.text)                  # "Sources disagree: UPI [2] says … ; Kyiv Independent [1] says …"
    answer.guard.status                 # "conflict" | "ok" | "unsupported" | "no_numbers"
    for c in answer.citations:          # what [n] points to: outlet, title, the exact span quoted
        print(c.n, c.outlet, c.quote, c.start, c.end)

The public API:

- `ask(question, *, k=5, model=None, index_dir="index", corpus_dir=None, rebuild=True, as_of=None) -> Answer`
  Retrieves passages (dense + BM25), reads the short answer among the spans they state (a learned
  ranker; a model only re-scores the best candidates) and runs the numeric guard. `answer.short` is the
  asked thing, `answer.headline` what to show first (every source's value when they disagree);
  `answer.text` leads with it, its citation and the quoted sentence. `as_of` (a date or "YYYY-MM-DD")
  leaves out later articles. `model` is "smollm2",
  "gemma3-270m", "extractive" (no model) or a path to any GGUF file. The index is built on first use and updated when the corpus changes.
  `corpus_dir` None is the corpus the index was built from (`seeds`, the bundled articles, for a new
  index); another corpus is refused (IndexStateError) rather than replacing the index's articles.
- `ask_stream(...)`: the same, yielding the answer's text as soon as it is read, then the checked `Answer`.
- `build_index(corpus_dir=None, index_dir="index", *, progress=False) -> BuildReport`: build or update
  the index; only new or changed files are embedded.
- `Answer`, `Citation`, `GuardReport`: the results; `Answer.to_dict()` is what `rag ask --json` prints.
- `RagError`: every error a user can fix (bad question, missing corpus, stale index, missing model)
  is one of its subclasses, with a message that says what to do.
"""

from .answer import Answer, Citation, Pipeline, ask, ask_stream, build_index
from .errors import CorpusError, IndexStateError, ModelError, QuestionError, RagError
from .guard import GuardReport

__all__ = [
    "Answer",
    "Citation",
    "CorpusError",
    "GuardReport",
    "IndexStateError",
    "ModelError",
    "Pipeline",
    "QuestionError",
    "RagError",
    "ask",
    "ask_stream",
    "build_index",
]
