"""Errors a user may see. The CLI and the UI print them as one line, without a traceback."""


class RagError(Exception):
    """A problem the user can fix; the message says what was wrong and what to do."""


class CorpusError(RagError):
    """The corpus directory or one of its files cannot be used."""


class IndexStateError(RagError):
    """The index is missing, stale, corrupted or cannot be written."""


class ModelError(RagError):
    """A model file or package is missing or unusable."""


class ClusterError(RagError):
    """The Ray cluster asked for cannot be used (Ray not installed, cluster not reachable)."""


class QuestionError(RagError):
    """The question cannot be answered as given (empty, say)."""


class EvalFileError(RagError):
    """The question file of `rag eval` cannot be read at all (a bad line is reported, not raised)."""
