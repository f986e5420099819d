"""Local corpus store: JSONL corpora ingested into SQLite with an FTS5 (BM25) index.

One SQLite file per named corpus under ``<cache>/corpora/``; it is rebuilt only when the input file's
fingerprint (sha256) changes, by one process at a time (a file lock; the others wait and reuse it). Supported inputs: our arXiv / landmark JSONL(.gz), SciFact ``corpus.jsonl``
and BEIR ``corpus.jsonl``.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import sqlite3
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import config
from ..errors import StoreError
from ..locks import build_lock
from ..records import Paper, normalise_arxiv, normalise_doi
from ..text import content_words

SCHEMA_VERSION = 3  # 3: record text normalised on ingest (text.normalise)


def fingerprint(path: Path) -> str:
    """sha256 of the file's bytes (plus the schema version, so a schema change rebuilds)."""
    digest = hashlib.sha256(f"schema{SCHEMA_VERSION}".encode())
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _open_text(path: Path):
    return gzip.open(path, "rt", encoding="utf-8") if path.suffix == ".gz" else open(path, encoding="utf-8")


def _year(value: Any) -> int | None:
    if value is None:
        return None
    text = str(value)
    return int(text[:4]) if text[:4].isdigit() else None


def parse_record(obj: dict[str, Any], corpus: str) -> Paper:
    """Map one JSON line of any supported corpus format to a Paper, its text normalised (`Paper.normalised`)."""
    return _parse(obj, corpus).normalised()


def _parse(obj: dict[str, Any], corpus: str) -> Paper:
    if "doc_id" in obj and isinstance(obj.get("abstract"), list):  # SciFact corpus
        sentences = [str(s).strip() for s in obj["abstract"]]
        return Paper(
            id=f"{corpus}:{obj['doc_id']}", title=obj.get("title", ""), abstract=" ".join(sentences),
            sentences=sentences, source=f"local:{corpus}", ids={corpus: str(obj["doc_id"])},
        )
    if "_id" in obj:  # BEIR corpus
        return Paper(
            id=f"{corpus}:{obj['_id']}", title=obj.get("title", ""), abstract=obj.get("text", ""),
            source=f"local:{corpus}", ids={corpus: str(obj["_id"])},
        )
    if "id" in obj and "abstract" in obj:  # arXiv-style JSONL
        arxiv = normalise_arxiv(str(obj["id"]))
        ids = {"arxiv": arxiv} if arxiv else {}
        if obj.get("doi"):
            ids["doi"] = normalise_doi(obj["doi"]) or ""
        year = _year(obj.get("published") or obj.get("listing_date") or obj.get("year"))
        return Paper(
            id=f"arxiv:{arxiv}", title=obj.get("title", ""), abstract=obj.get("abstract", ""),
            authors=list(obj.get("authors") or []), year=year, venue="arXiv", type="preprint",
            source=f"local:{corpus}", url=obj.get("url") or f"https://arxiv.org/abs/{arxiv}", ids=ids,
            citation_count=obj.get("citation_count"), categories=list(obj.get("categories") or []),
        )
    raise StoreError(f"unrecognised record format (keys: {sorted(obj)[:8]})")


def read_corpus(path: Path, corpus: str) -> Iterator[Paper]:
    """Yield Papers from a JSONL(.gz) corpus file; a bad line raises with its line number."""
    with _open_text(path) as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                yield parse_record(json.loads(line), corpus)
            except (json.JSONDecodeError, StoreError) as exc:
                raise StoreError(f"{path}:{lineno}: {exc}") from exc


def fts_query(text: str, max_terms: int = 64) -> str:
    """An FTS5 MATCH expression: OR of quoted content words (BM25 ranking over any match)."""
    seen: list[str] = []
    for word in content_words(text):
        word = word.replace('"', "")
        if word and word not in seen:
            seen.append(word)
    return " OR ".join(f'"{w}"' for w in seen[:max_terms])


def embed_text(title: str | None, abstract: str | None) -> str:
    """The text a document's vector is computed from: "title. abstract" (the abstract alone without a title)."""
    return f"{title}. {abstract}" if title else (abstract or "")  # as the first caches were keyed: keep it


@dataclass
class Hit:
    doc_id: str
    score: float


class CorpusStore:
    """A read-mostly SQLite store for one corpus."""

    def __init__(self, db_path: Path, name: str) -> None:
        self.db_path, self.name = Path(db_path), name
        if not self.db_path.exists():
            raise StoreError(f"{self.db_path}: store for corpus '{name}' not built")
        self._con = sqlite3.connect(f"file:{self.db_path}?mode=ro", uri=True, check_same_thread=False)

    # -- building -------------------------------------------------------------------------------
    @classmethod
    def build(cls, name: str, source: Path, db_path: Path, progress: bool = True) -> CorpusStore:
        """Ingest `source` into a fresh SQLite file, atomically replacing `db_path`."""
        source = Path(source)
        if not source.exists():
            raise StoreError(f"{source}: corpus file not found")
        tmp = db_path.with_name(f".{db_path.name}.{os.getpid()}.tmp")
        tmp.parent.mkdir(parents=True, exist_ok=True)
        if tmp.exists():
            tmp.unlink()
        con = sqlite3.connect(tmp)
        try:
            con.executescript(
                """
                PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF;
                CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT);
                CREATE TABLE docs(n INTEGER PRIMARY KEY, doc_id TEXT UNIQUE NOT NULL, title TEXT, abstract TEXT,
                                  year INTEGER, record TEXT NOT NULL);
                CREATE VIRTUAL TABLE docs_fts USING fts5(title, abstract, content='docs', content_rowid='n',
                                                         tokenize='porter unicode61');
                """
            )
            rows = read_corpus(source, name)
            if progress:
                from tqdm.auto import tqdm

                rows = tqdm(rows, desc=f"ingest {name}", unit=" docs", mininterval=2)
            seen: set[str] = set()
            batch: list[tuple] = []
            for paper in rows:
                if paper.id in seen:
                    continue
                seen.add(paper.id)
                batch.append((paper.id, paper.title, paper.abstract, paper.year, json.dumps(paper.to_dict())))
                if len(batch) >= 5000:
                    con.executemany("INSERT INTO docs(doc_id,title,abstract,year,record) VALUES (?,?,?,?,?)", batch)
                    batch.clear()
            con.executemany("INSERT INTO docs(doc_id,title,abstract,year,record) VALUES (?,?,?,?,?)", batch)
            con.execute("INSERT INTO docs_fts(docs_fts) VALUES ('rebuild')")
            meta = {"name": name, "source": str(source), "fingerprint": fingerprint(source), "n_docs": str(len(seen))}
            con.executemany("INSERT INTO meta VALUES (?,?)", meta.items())
            con.commit()
        except BaseException:
            con.close()
            tmp.unlink(missing_ok=True)  # a bad line or an interrupt: no half-built file is left behind
            raise
        con.close()
        os.replace(tmp, db_path)
        return cls(db_path, name)

    # -- reading --------------------------------------------------------------------------------
    def meta(self) -> dict[str, str]:
        return dict(self._con.execute("SELECT key, value FROM meta"))

    def __len__(self) -> int:
        return self._con.execute("SELECT COUNT(*) FROM docs").fetchone()[0]

    def search(self, query: str, k: int = 100, weights: tuple[float, float] = (1.0, 1.0),
               year_range: tuple[int | None, int | None] | None = None) -> list[Hit]:
        """BM25 search (FTS5); returns hits with positive scores, best first."""
        match = fts_query(query)
        if not match:
            return []
        sql = (
            "SELECT d.doc_id, -bm25(docs_fts, ?, ?) AS s FROM docs_fts JOIN docs d ON d.n = docs_fts.rowid "
            "WHERE docs_fts MATCH ?"
        )
        args: list[Any] = [weights[0], weights[1], match]
        if year_range:
            lo, hi = year_range
            if lo is not None:
                sql += " AND (d.year IS NULL OR d.year >= ?)"
                args.append(lo)
            if hi is not None:
                sql += " AND (d.year IS NULL OR d.year <= ?)"
                args.append(hi)
        sql += " ORDER BY bm25(docs_fts, ?, ?) LIMIT ?"
        args += [weights[0], weights[1], k]
        return [Hit(doc_id, score) for doc_id, score in self._con.execute(sql, args)]

    def get(self, doc_ids: Iterable[str]) -> list[Paper]:
        """Papers for the given ids, in the given order (unknown ids skipped)."""
        ids = list(doc_ids)
        out: dict[str, Paper] = {}
        for chunk_start in range(0, len(ids), 500):
            chunk = ids[chunk_start:chunk_start + 500]
            q = f"SELECT doc_id, record FROM docs WHERE doc_id IN ({','.join('?' * len(chunk))})"
            for doc_id, record in self._con.execute(q, chunk):
                out[doc_id] = Paper.from_dict(json.loads(record))
        return [out[i] for i in ids if i in out]

    def iter_papers(self, batch: int = 2000) -> Iterator[Paper]:
        """Every paper in insertion order (row order is stable: used to align embeddings)."""
        for (record,) in self._con.execute("SELECT record FROM docs ORDER BY n"):
            yield Paper.from_dict(json.loads(record))

    def doc_ids(self) -> list[str]:
        return [r[0] for r in self._con.execute("SELECT doc_id FROM docs ORDER BY n")]

    def texts(self) -> list[str]:
        """"title. abstract" per document in row order (what embeddings are computed from: `embed_text`)."""
        return [embed_text(t, a) for t, a in self._con.execute("SELECT title, abstract FROM docs ORDER BY n")]

    def texts_for(self, doc_ids: Iterable[str]) -> dict[str, str]:
        """`embed_text` of the given documents (unknown ids left out)."""
        ids = list(dict.fromkeys(doc_ids))
        out: dict[str, str] = {}
        for start in range(0, len(ids), 500):
            chunk = ids[start:start + 500]
            q = f"SELECT doc_id, title, abstract FROM docs WHERE doc_id IN ({','.join('?' * len(chunk))})"
            out.update((d, embed_text(t, a)) for d, t, a in self._con.execute(q, chunk))
        return out

    def doc_frequency(self, terms: Iterable[str]) -> dict[str, int]:
        """Document frequency of each (porter-stemmed by FTS5) term, for query weighting."""
        out = {}
        for term in terms:
            t = term.replace('"', "")
            if not t:
                continue
            out[term] = self._con.execute("SELECT COUNT(*) FROM docs_fts WHERE docs_fts MATCH ?", (f'"{t}"',)).fetchone()[0]
        return out

    def close(self) -> None:
        self._con.close()


# -- the registry of named corpora ---------------------------------------------------------------

def _registry_path() -> Path:
    return config.cache_dir() / "corpora" / "registry.json"


def registered() -> dict[str, str]:
    """name -> source path for every known corpus (built-ins under the data root, then user-added)."""
    names = {n: str(config.data_root() / rel) for n, rel in config.DEFAULT_CORPORA.items()}
    reg = _registry_path()
    if reg.exists():
        names.update(json.loads(reg.read_text()))
    return names


def add_corpus(name: str, path: Path) -> CorpusStore:
    """Register `path` under `name` and build (or reuse) its store."""
    from ..atomic import write_text

    path = Path(path).resolve()
    if not path.exists():
        raise StoreError(f"{path}: corpus file not found")
    reg = _registry_path()
    with build_lock(reg):  # read-modify-write: two processes adding corpora at once must not lose one
        current = json.loads(reg.read_text()) if reg.exists() else {}
        current[name] = str(path)
        write_text(reg, json.dumps(current, indent=1))
    return open_corpus(name)


def store_path(name: str) -> Path:
    return config.cache_dir() / "corpora" / f"{name}.sqlite"


def open_corpus(name: str, progress: bool = True) -> CorpusStore:
    """Open the store for a named corpus, building it first if missing or if its input changed."""
    known = registered()
    if name not in known:
        raise StoreError(f"unknown corpus '{name}' (known: {', '.join(sorted(known))}); add it with `workbench corpus add`")
    source = Path(known[name])
    if not source.exists():
        raise StoreError(f"corpus '{name}': source file {source} not found (is WORKBENCH_DATA_ROOT right?)")
    db = store_path(name)
    store = _current_store(db, name, source)
    if store is not None:
        return store
    with build_lock(db):  # one builder; the others wait here, then reuse what it built
        store = _current_store(db, name, source)
        if store is not None:
            return store
        return CorpusStore.build(name, source, db, progress=progress)


def _current_store(db: Path, name: str, source: Path) -> CorpusStore | None:
    """The built store at `db` if it was built from `source` as it is now, else None (`build` swaps a finished
    file in with one rename, so this never sees a half-built store)."""
    if not db.exists():
        return None
    store = CorpusStore(db, name)
    meta = store.meta()
    if meta.get("fingerprint") == fingerprint(source) and meta.get("source") == str(source):
        return store
    store.close()
    return None
