"""Corpus stage: read article files, keep the article, drop the page furniture, group near-duplicates.

Pages saved from news sites carry newsletter forms, captions, ads and lists of other stories; none of
that may be indexed or quoted. HTML goes through trafilatura first; every format then goes through the
same line rules below, written for saved page text (trafilatura and jusText need markup to tell
furniture from article, and plain text has none).

Labels come from the page, never from the file name (whose digits would read as figures): the
outlet from the page's metadata, its host line ("August 5, 2022 · cnn.com"), a dateline ("(CNN) —")
or a news desk; the date from the metadata or a date line of the header; the title from the header.
"""

from __future__ import annotations

import codecs
import hashlib
import logging
import os
import re
from array import array
from dataclasses import dataclass, field, replace
from functools import cached_property
from itertools import repeat
from pathlib import Path
from stat import S_ISDIR, S_ISREG

from .dates import MONTH_ANY, find_date, split_date_line
from .errors import CorpusError
from .text import UnionFind

log = logging.getLogger("rag")

SUPPORTED_SUFFIXES = (".txt", ".md", ".html", ".htm")
# News articles are a few kB; a file this large is a dump, not an article, and would stall the chunker.
MAX_FILE_BYTES = 20 * 1024 * 1024
# Jaccard similarity of word shingles above which two files are copies of one story.
NEAR_DUPLICATE_THRESHOLD = 0.6
_SHINGLE_WORDS = 3


@dataclass(frozen=True)
class Document:
    """One article after cleaning. Chunk offsets and citation spans point into `text`."""

    source: str  # file name, relative to the corpus directory
    text: str
    sha256: str  # of the raw file, so the index can tell what changed
    outlet: str | None = None
    title: str | None = None
    byline: str | None = None
    date: str | None = None  # ISO date of publication
    group: str = ""  # story group: copies of one story share it and count once as confirmation


@dataclass  # not frozen: a frozen dataclass takes twice as long to make
class CorpusFile:
    source: str  # path relative to `root`, with "/" between folders
    root: Path
    size: int
    mtime_ns: int

    @cached_property
    def path(self) -> Path:
        return self.root / self.source

    @cached_property
    def sha256(self) -> str:
        """Of the raw bytes, read on first use: a freshness check reads only files whose size or time changed."""
        return file_sha256(self.path)


@dataclass
class Listing:
    """The article files of a corpus directory in a stable order, as columns: a question compares them whole
    with the ones its index recorded, without making an object per file."""

    root: Path
    sources: list[str] = field(default_factory=list)  # relative to `root`, with "/" between folders
    sizes: array[int] = field(default_factory=lambda: array("q"))  # int64, as the index packs them
    mtimes_ns: array[int] = field(default_factory=lambda: array("q"))

    def __post_init__(self):  # a listing made by hand may give lists
        self.sizes, self.mtimes_ns = array("q", self.sizes), array("q", self.mtimes_ns)

    def files(self) -> list[CorpusFile]:
        return [CorpusFile(*row) for row in zip(self.sources, repeat(self.root), self.sizes, self.mtimes_ns)]


def file_sha256(path: Path) -> str:
    """The sha256 of a file's bytes, read in blocks (index files run to gigabytes)."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# --- files -------------------------------------------------------------------------------------


def list_corpus(corpus_dir: str | Path) -> list[CorpusFile]:
    """The article files of a corpus directory with their sizes and modification times, in a stable order."""
    return scan_corpus(corpus_dir).files()


def corpus_root(corpus_dir: str | Path) -> Path:
    """The corpus directory as a path; a CorpusError when it is not there or is a file."""
    root = Path(corpus_dir)
    if not root.exists():
        raise CorpusError(f"corpus directory not found: {root} (pass --corpus DIR with your articles)")
    if not root.is_dir():
        raise CorpusError(f"corpus path is not a directory: {root}")
    return root


def scan_corpus(corpus_dir: str | Path) -> Listing:
    """The article files of a corpus directory as columns, in a stable order. Hidden files and folders are
    left out. One `stat` per file, relative to its open folder, and plain strings: 100,000 files are listed
    in about a quarter of a second (bench/freshness.py)."""
    root = corpus_root(corpus_dir)
    listing = Listing(root)
    _list_folder(str(root), None, "", listing)
    if not listing.sources:
        raise CorpusError(
            f"no article files in {root}: add .txt, .md or .html files (found none of {', '.join(SUPPORTED_SUFFIXES)})"
        )
    return listing


def _list_folder(name: str, parent: int | None, prefix: str, listing: Listing) -> None:
    """Append the article files under folder `name` (in the open folder `parent`, or a path) in name order,
    folders before the files that sort after them (the order of `sorted(Path.rglob(...))`), without
    following links to folders. The folder is listed through its descriptor, so each `stat` looks up one
    name rather than the whole path.

    Per file this does little besides the kernel's `stat` (bench/freshness.py): names are listed as plain
    strings, an article's name is `stat`-ed straight away (a regular file is the common case), a folder's
    files get their paths in one step, and sizes and times go into int64 arrays, compared whole with the
    recorded columns. Which other names are folders is asked of the directory's entry types only in a
    folder that holds such names (a folder of articles alone is listed once)."""
    try:
        folder = os.open(name, os.O_RDONLY | os.O_DIRECTORY, dir_fd=parent)
    except OSError as exc:
        log.warning("skipping %s: cannot read it (%s)", prefix or name, exc.strerror or exc)
        return
    try:
        names = sorted(os.listdir(folder))
        found: list[str] = []
        folders: set[str] | None = None
        size, mtime = listing.sizes.append, listing.mtimes_ns.append
        stat = os.stat
        for name in names:
            if name[0] == ".":
                continue
            if name.lower().endswith(SUPPORTED_SUFFIXES):
                try:
                    info = stat(name, dir_fd=folder)  # a link to a file is read as the file
                except OSError as exc:
                    log.warning("skipping %s%s: cannot read it (%s)", prefix, name, exc.strerror or exc)
                    continue
                if S_ISREG(info.st_mode):
                    found.append(name)
                    size(info.st_size)
                    mtime(info.st_mtime_ns)
                    continue
                if not S_ISDIR(info.st_mode):
                    continue
            if folders is None:
                with os.scandir(folder) as scan:
                    folders = {entry.name for entry in scan if entry.is_dir(follow_symlinks=False)}
            if name in folders:
                listing.sources.extend(map(prefix.__add__, found))
                found.clear()
                _list_folder(name, folder, f"{prefix}{name}/", listing)
        listing.sources.extend(map(prefix.__add__, found))
    finally:
        os.close(folder)


def read_document(file: CorpusFile) -> Document | None:
    """Read and clean one file; None (with a warning naming the file) when it holds no usable article."""
    try:
        data = file.path.read_bytes()
    except OSError as exc:  # removed or locked since the directory was listed
        log.warning("skipping %s: cannot read it (%s)", file.source, exc.strerror or exc)
        return None
    if len(data) > MAX_FILE_BYTES:
        log.warning(
            "skipping %s: %.1f MB is too large for an article (limit %d MB)",
            file.source,
            len(data) / 2**20,
            MAX_FILE_BYTES >> 20,
        )
        return None
    if not data.strip():
        log.warning("skipping %s: the file is empty", file.source)
        return None
    if data[:2] in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE):
        raw = data.decode("utf-16", errors="replace")  # Windows "Unicode" text: full of NUL bytes, yet text
    elif b"\x00" in data[:8192]:
        log.warning("skipping %s: it is a binary file, not text", file.source)
        return None
    else:
        try:
            raw = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            raw = data.decode("cp1252", errors="replace")
            log.warning("%s is not UTF-8; read it as Windows-1252 (save it as UTF-8 to silence this)", file.source)
    suffix = file.path.suffix.lower()
    metadata: dict[str, str | None] = {}
    if suffix in (".html", ".htm"):
        raw, metadata = _extract_html(raw)
    elif suffix == ".md":
        raw = _strip_markdown(raw)
    document = clean_text(raw, source=file.source, sha256=file.sha256)
    document = replace(document, **{k: v for k, v in metadata.items() if v})  # the page's own metadata wins
    if document.title:
        document = replace(document, title=_without_site_name(document.title, document.outlet))
    if not document.text:
        log.warning(
            "skipping %s: no article text left after removing page furniture "
            "(article paragraphs are lines of 8 or more words ending with . ! or ?)",
            file.source,
        )
        return None
    return document


def _extract_html(html: str) -> tuple[str, dict[str, str | None]]:
    import trafilatura

    result = trafilatura.bare_extraction(html, with_metadata=True, include_comments=False, include_tables=False)
    if result is None:
        return "", {}
    as_dict = result.as_dict() if hasattr(result, "as_dict") else dict(result)
    published = find_date(as_dict.get("date") or "")
    metadata = {
        "title": as_dict.get("title"),
        "byline": as_dict.get("author"),
        "date": published.isoformat() if published else None,
        "outlet": _short_outlet(as_dict.get("sitename")) or outlet_from_host(as_dict.get("hostname") or ""),
    }
    return as_dict.get("text") or "", metadata


def _strip_markdown(text: str) -> str:
    text = re.sub(r"!\[[^\]]*\]\([^)]*\)", "", text)  # images
    text = re.sub(r"\[([^\]]+)\]\([^)]*\)", r"\1", text)  # links keep their words
    text = re.sub(r"^\s{0,3}#{1,6}\s*", "", text, flags=re.M)
    return re.sub(r"(\*\*|__)(.+?)\1", r"\2", text)


# --- cleaning ----------------------------------------------------------------------------------

_FURNITURE_LINES = {
    "advertisement",
    "related",
    "trending",
    "skip to content",
    "edit post",
    "subscribe",
    "world news",
    "this audio is created with ai assistance",
    "* indicates required",
    "please, enter correct email address",
    "enter your email to subscribe",
    "successfuly subscribed",
    "successfully subscribed",
    "sign up",
    "share",
    "read more",
    "listen",
    "print",
    "comments",
    "license photo",
}
# Headings after which a page lists other stories, forms and links, never more of the article.
_END_OF_ARTICLE = re.compile(
    r"^(news feed|latest headlines|trending stories|more news|editors'? picks|most read|most popular|"
    r"recommended( stories)?|related (stories|articles|coverage)|read next|you may also like|follow us|more from)\b",
    re.I,
)
_FORM_TEXT = re.compile(r"\b(subscribe|newsletter|sign(ing)? up|email address|indicates required)\b", re.I)
_CAPTION = re.compile(
    r"(\bphoto (by|for|credit|courtesy)\b|\| license photo|\bfile photo\b|^(photo|image|credit|caption):|"
    r"\((?:[^()]*/\s*)?(AFP|AP|Reuters|Getty Images|EPA|Pool)[^()]*\)\s*$)",
    re.I,
)
_BYLINE = re.compile(r"^by\s+(.+)$", re.I)
_DATELINE_OUTLET = re.compile(r"\(([A-Z][A-Za-z]{1,15})\)\s+(--|—|–)")
# A first paragraph that opens with the outlet in brackets, after an optional place: "(CNN) The …",
# "New York (CNN Business) Stocks …".
_LEADING_DATELINE = re.compile(
    r"(?:[A-Z][\w.'’-]*(?:,? [A-Z][\w.'’-]*){0,3} )?\(([A-Z][A-Za-z]+(?: [A-Z][a-z]+)?)\) (?=[A-Z\"“‘'—–-])"
)
_HOST = re.compile(
    r"(?<![\w@.-])(?:https?://)?(?:www\.)?((?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.)+[a-z]{2,})(?:/\S*)?(?![\w.-])"
)
_SEPARATORS = " ,;:|/·•–—-"
_SITE_SUFFIX = re.compile(r"\s[|–—-]\s([^|–—]{1,40})$")
# Lines from the top of a page among which its date, host and by-lines are looked for.
HEADER_LINES = 5
_NEWS_DESK = re.compile(r"\b(?:and\s+)?(The\s+)?([A-Z][\w.]*(?:\s+[A-Z][\w.]*){0,3})\s+news desk\b")
_SENTENCE_END = re.compile(r"[.!?]['\"”’)]*$|[\"”’]$")


def clean_text(raw: str, *, source: str, sha256: str = "") -> Document:
    """Cut a saved page down to its article paragraphs and read outlet, title, byline and date."""
    lines = [line for line in (re.sub(r"\s+", " ", line).strip() for line in raw.splitlines()) if line]
    lines = [line for line in lines if not _is_furniture(line)]
    header_end = _header_end(lines)
    header, body = lines[:header_end], []
    for line in lines[header_end:]:
        if body and _END_OF_ARTICLE.match(line):
            break
        if is_paragraph(line):
            body.append(line)
        elif not body:
            header.append(line)
        # A line without closing punctuation inside the article is a sub-heading or a teaser for
        # another story; neither is article text worth quoting.
    title, byline, published, host = _read_header(header)
    outlet = outlet_from_host(host) if host else _find_outlet(header + body[:3])
    return Document(
        source=source,
        text="\n\n".join(_dedupe_adjacent(body)),
        sha256=sha256,
        outlet=outlet,
        title=_without_site_name(title, outlet) if title else None,
        byline=byline,
        date=published,
    )


def _is_furniture(line: str) -> bool:
    lowered = line.lower().strip(" .:")
    return (
        lowered in _FURNITURE_LINES
        or bool(_CAPTION.search(line))
        or (len(line) < 120 and bool(_FORM_TEXT.search(line)))
        or line.startswith("* ")
    )


def is_paragraph(line: str) -> bool:
    return len(line.split()) >= 8 and bool(_SENTENCE_END.search(line))


def _dedupe_adjacent(paragraphs: list[str]) -> list[str]:
    return [p for i, p in enumerate(paragraphs) if i == 0 or p != paragraphs[i - 1]]


def _header_end(lines: list[str]) -> int:
    """How many lines at the top are the page header: up to its last date, host or by-line, even past a
    title that reads like a sentence ("Things to know this week ..."). A second sentence ends the
    search, so a date sub-heading inside an article never turns its paragraphs into header."""
    end = sentences = 0
    for i, line in enumerate(lines[:HEADER_LINES]):
        if _is_header_line(line):
            end = i + 1
        elif is_paragraph(line):
            sentences += 1
            if sentences > 1:
                break
    return end


def _is_header_line(line: str) -> bool:
    """A page's date line, host line or by-line: "August 5, 2022 · cnn.com", "By Jane Roe | Aug. 5, 2022"."""
    if _BYLINE.match(line):
        return not is_paragraph(line)
    published, rest = split_date_line(line)
    rest = _HOST.sub(" ", rest).strip(_SEPARATORS)
    return (published is not None or rest != line.strip(_SEPARATORS)) and len(rest.split()) <= 2


def _read_header(header: list[str]) -> tuple[str | None, str | None, str | None, str | None]:
    """Title, byline, ISO date and host name of the page, from the lines above the article. The date
    of a date line wins over one a title happens to state ("5 things to know on July 10, 2022")."""
    title = byline = host = None
    dates: list[tuple[bool, str]] = []  # (from a date line?, ISO date)
    for line in header:
        found, rest = split_date_line(line)
        is_header_line = _is_header_line(line)
        if found:
            dates.append((is_header_line, found.isoformat()))
        if host is None and is_header_line and (named := _HOST.search(rest)):
            host = named.group(1)
        if (match := _BYLINE.match(line)) and byline is None:
            byline = re.split(MONTH_ANY, match.group(1))[0].strip(" ,|") if found else match.group(1).strip()
        elif title is None and not is_header_line and len(line.split()) >= 3:
            title = line
    published = max(dates, key=lambda pair: pair[0])[1] if dates else None
    return title, byline, published, host


def _find_outlet(lines: list[str]) -> str | None:
    for line in lines:
        if found := _DATELINE_OUTLET.search(line) or _LEADING_DATELINE.match(line):
            return found.group(1)
        if found := _NEWS_DESK.search(line):
            return found.group(2)
    return None


def _short_outlet(name: str | None) -> str | None:
    return re.sub(r"^the\s+", "", name, flags=re.I).strip() if name else None


# Outlets whose name is not their host's name written out; others: "reuters.com" -> "Reuters", "upi.com" -> "UPI".
KNOWN_OUTLETS = {
    "abcnews": "ABC News",
    "aljazeera": "Al Jazeera",
    "apnews": "AP",
    "cbsnews": "CBS News",
    "cnbc": "CNBC",
    "foxnews": "Fox News",
    "ft": "Financial Times",
    "kyivindependent": "Kyiv Independent",
    "latimes": "Los Angeles Times",
    "nbcnews": "NBC News",
    "nytimes": "The New York Times",
    "theatlantic": "The Atlantic",
    "theguardian": "The Guardian",
    "theweek": "The Week",
    "usatoday": "USA Today",
    "washingtonpost": "The Washington Post",
    "wsj": "The Wall Street Journal",
}
# Second-level labels under a country's domain ("theweek.co.uk", "abc.net.au").
_SECOND_LEVEL = {"co", "com", "net", "org", "gov", "ac", "edu"}


def outlet_from_host(host: str) -> str | None:
    """The outlet a site's host name stands for: "cnn.com" -> "CNN", "usatoday.com" -> "USA Today",
    "theweek.co.uk" -> "The Week", "edition.cnn.com" -> "CNN", "kyiv-post.com" -> "Kyiv Post"."""
    labels = host.lower().removeprefix("www.").split(".")
    if len(labels) < 2:
        return None
    labels = labels[:-1]  # the top-level domain
    if len(labels) >= 2 and labels[-1] in _SECOND_LEVEL:
        labels = labels[:-1]
    name = labels[-1]
    if name in KNOWN_OUTLETS:
        return KNOWN_OUTLETS[name]
    return name.upper() if len(name) <= 4 else " ".join(part.capitalize() for part in name.split("-"))


def _without_site_name(title: str, outlet: str | None) -> str:
    """A page title without the site's name pages append to it ("… - CNN", "… | CNN Business", "… | The ...")."""
    found = _SITE_SUFFIX.search(title)
    if not found or not outlet:
        return title
    suffix = found.group(1).removesuffix("...").removesuffix("…").strip().lower()
    name = outlet.lower()
    return title[: found.start()].rstrip() if suffix and (name.startswith(suffix) or suffix.startswith(name)) else title


# --- near-duplicates ---------------------------------------------------------------------------


def _shingles(text: str) -> set[bytes]:
    words = re.findall(r"\w+", text.lower())
    return {" ".join(words[i : i + _SHINGLE_WORDS]).encode() for i in range(max(1, len(words) - _SHINGLE_WORDS + 1))}


def group_near_duplicates(documents: list[Document]) -> list[Document]:
    """Give copies of one story a shared group, and let a bare copy borrow the metadata of its group.

    Copies are found with MinHash LSH over word shingles; they still keep their own text, so a
    figure changed between two copies is compared by the guard rather than hidden.
    """
    from datasketch import MinHash, MinHashLSH  # imports scipy: 1.2 s, paid only by an index build

    lsh = MinHashLSH(threshold=NEAR_DUPLICATE_THRESHOLD, num_perm=128)
    hashes = {}
    by_source = {doc.source: doc for doc in documents}
    for doc in documents:
        minhash = MinHash(num_perm=128)
        minhash.update_batch(list(_shingles(doc.text)))
        hashes[doc.source] = minhash
        lsh.insert(doc.source, minhash)
    copies = UnionFind(doc.source for doc in documents)
    for doc in documents:
        for other in lsh.query(hashes[doc.source]):
            copies.join(doc.source, other)
    groups = copies.groups()
    members = {root: [by_source[s] for s in sources] for root, sources in groups.items()}
    grouped = []
    for doc in documents:
        group = copies.root(doc.source)
        fields = {"group": group}
        for name in ("outlet", "title", "byline", "date"):
            if getattr(doc, name) is None:
                fields[name] = next((getattr(m, name) for m in members[group] if getattr(m, name)), None)
        grouped.append(replace(doc, **fields))
    return grouped
