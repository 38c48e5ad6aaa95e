"""The BM25 side (bm25s), tokenised with the project's own stemmer and stop words.

Stored inside each index generation, so it always describes exactly the same passages
(same row numbers) as the FAISS index beside it. Each passage is indexed together with its
article's title. The vocabulary and document frequencies double as the term ids and IDF
weights of the sentence-level term postings (see `SentenceTerms`).
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import chain
from pathlib import Path

import bm25s
import numpy as np

from ..text import tokenize

# k1 = 1.2 (instead of bm25s's 1.5) saturates repeated terms a little sooner; measured on squad-dev it
# gave +0.004 MRR@10 to BM25 alone and +0.002 to the hybrid ranking. b is the usual 0.75.
K1 = 1.2
B = 0.75


def _ids(documents: Sequence[Sequence[str]], vocab: dict[str, int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """All the documents' term ids concatenated, the document each came from, and where each document starts."""
    lengths = np.fromiter(map(len, documents), dtype=np.int64, count=len(documents))
    ids = np.fromiter(map(vocab.__getitem__, chain.from_iterable(documents)), dtype=np.int64,
                      count=int(lengths.sum()))
    starts = np.cumsum(lengths) - lengths
    return ids, np.repeat(np.arange(len(documents), dtype=np.int64), lengths), starts


def _spans(starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """The positions starts[i], starts[i] + 1, ... starts[i] + lengths[i] - 1 for every i, concatenated."""
    return np.repeat(starts - (np.cumsum(lengths) - lengths), lengths) + np.arange(int(lengths.sum()))


def _distinct_pairs(terms: np.ndarray, rows: np.ndarray, n_rows: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Distinct (term, row) pairs ordered by term then row, with how often each occurred."""
    keys, counts = np.unique(terms * max(1, n_rows) + rows, return_counts=True)
    return keys // max(1, n_rows), keys % max(1, n_rows), counts


def _bm25(terms: np.ndarray, docs: np.ndarray, n_docs: int, vocab: dict[str, int]) -> bm25s.BM25:
    """A bm25s retriever over these (term, document) occurrences: what `bm25s.BM25.index` would build.

    bm25s computes its score matrix with a Python loop per document; here it is a few numpy
    operations with the same Lucene formula, float32 IDFs and CSC layout (a test holds it equal to
    bm25s's own build). The retriever gets the attributes `bm25s.BM25.load` gives it; bm25s then
    saves, loads and scores it as usual.
    """
    retriever = bm25s.BM25(k1=K1, b=B, method="lucene")
    doc_length = np.bincount(docs, minlength=n_docs).astype(np.float64)
    term, doc, tf = _distinct_pairs(terms, docs, n_docs)
    df = np.bincount(term, minlength=len(vocab)).astype(np.float64)
    idf = np.log(1.0 + (n_docs - df + 0.5) / (df + 0.5)).astype(retriever.dtype)
    norm = retriever.k1 * ((1 - retriever.b) + retriever.b * doc_length[doc] / max(doc_length.mean(), 1e-9))
    scores = idf[term].astype(np.float64) * (tf / (norm + tf))
    retriever.scores = {
        "data": scores.astype(retriever.dtype),
        "indices": doc.astype(retriever.int_dtype),
        "indptr": np.concatenate([[0], np.cumsum(df.astype(np.int64))]),
        "num_docs": n_docs,
    }
    retriever.vocab_dict = {**vocab, "": len(vocab)}  # bm25s's empty token, last, as its index() adds it
    retriever.unique_token_ids_set = set(retriever.vocab_dict.values())
    retriever.nonoccurrence_array = None  # the Lucene variant scores nothing for absent terms
    return retriever


class LexicalIndex:
    def __init__(self, retriever: bm25s.BM25):
        self._retriever = retriever
        self.vocab: dict[str, int] = retriever.vocab_dict
        self.n_docs: int = int(retriever.scores["num_docs"])
        indptr = np.asarray(retriever.scores["indptr"])
        df = np.diff(indptr).astype(np.float64)[: len(self.vocab)]
        # IDF of every vocabulary term; a term the index has never seen gets `unseen_idf`, the rarest value.
        self.idf_by_id = np.log(1.0 + (self.n_docs - df + 0.5) / (df + 0.5))
        self.unseen_idf = float(np.log(1.0 + (self.n_docs + 0.5) / 0.5))

    @classmethod
    def load(cls, path: Path) -> LexicalIndex:
        return cls(bm25s.BM25.load(str(path), show_progress=False))

    def save(self, path: Path) -> None:
        self._retriever.save(str(path), show_progress=False)

    def term_ids(self, tokens: list[str]) -> list[int]:
        """Vocabulary ids of the tokens the index knows (repeats kept, unknown tokens dropped)."""
        return [self.vocab[t] for t in tokens if t in self.vocab]

    def scores(self, query: str | list[str]) -> np.ndarray:
        """BM25 score of every passage row (zeros where no query term occurs); takes text or tokens."""
        tokens = tokenize(query) if isinstance(query, str) else query
        ids = self.term_ids(tokens)
        if not ids:
            return np.zeros(self.n_docs, dtype=np.float32)
        return np.asarray(self._retriever.get_scores(ids), dtype=np.float32)

    def idf(self, tokens: list[str]) -> np.ndarray:
        """Inverse document frequency of each token; unseen tokens get the rarest value."""
        return np.array(
            [self.idf_by_id[self.vocab[t]] if t in self.vocab else self.unseen_idf for t in tokens], dtype=np.float64
        )


class SentenceTerms:
    """Which sentences contain which term: postings (term id -> sentence rows), built at index time.

    A sentence's terms are those of its text plus its article's title. With them, the IDF-weighted
    share of a question's terms that each sentence holds costs one scatter-add per question term.
    """

    FILE = "sentence_terms.npz"

    def __init__(self, indptr: np.ndarray, rows: np.ndarray, n_sentences: int):
        self.indptr = indptr
        self.rows = rows
        self.n_sentences = n_sentences

    @classmethod
    def from_occurrences(cls, terms: np.ndarray, rows: np.ndarray, n_sentences: int, n_terms: int) -> SentenceTerms:
        """Postings from every (term id, sentence row) occurrence, repeats allowed."""
        term, row, _ = _distinct_pairs(terms, rows, n_sentences)
        indptr = np.concatenate([[0], np.cumsum(np.bincount(term, minlength=n_terms))]).astype(np.int64)
        return cls(indptr, row.astype(np.int32), n_sentences)

    @classmethod
    def load(cls, folder: Path) -> SentenceTerms:
        with np.load(Path(folder) / cls.FILE) as data:
            return cls(data["indptr"], data["rows"], int(data["n_sentences"]))

    def save(self, folder: Path) -> None:
        with open(Path(folder) / self.FILE, "wb") as handle:
            np.savez(handle, indptr=self.indptr, rows=self.rows, n_sentences=np.int64(self.n_sentences))

    def sentences_with(self, term_id: int) -> np.ndarray:
        """The rows of the sentences that hold the term (or whose title does)."""
        return self.rows[self.indptr[term_id]:self.indptr[term_id + 1]]

    def weighted_presence(self, term_ids: list[int], weights: np.ndarray) -> np.ndarray:
        """For every sentence, the sum of `weights` of the distinct terms in `term_ids` it contains."""
        out = np.zeros(self.n_sentences, dtype=np.float64)
        for term, weight in zip(term_ids, weights, strict=True):
            out[self.rows[self.indptr[term]:self.indptr[term + 1]]] += weight
        return out


def build_lexical(title_terms: Sequence[str], passage_title: np.ndarray, sentence_terms: Sequence[str],
                  sentence_passage: np.ndarray) -> tuple[LexicalIndex, SentenceTerms]:
    """The BM25 index of the passages and the sentence term postings, from each title's and sentence's terms.

    Terms are `text.tokenize` output joined by spaces, kept from build to build so that unchanged
    text is never tokenised again. `passage_title[p]` is passage p's title number and
    `sentence_passage[s]` sentence s's passage row. A passage's document is its title's terms
    followed by its sentences': sentences cover a passage but for whitespace and no word crosses
    a sentence end, so that equals tokenising the title and the passage whole. A sentence's terms
    are its own and its title's.
    """
    titles = [t.split() for t in title_terms]
    sentences = [t.split() for t in sentence_terms]
    vocab = {t: i for i, t in enumerate(dict.fromkeys(chain(chain.from_iterable(titles),
                                                              chain.from_iterable(sentences))))}
    title_ids, _, title_start = _ids(titles, vocab)
    sentence_ids, sentence_row, _ = _ids(sentences, vocab)
    title_length = np.fromiter(map(len, titles), dtype=np.int64, count=len(titles))
    passage_title = np.asarray(passage_title, dtype=np.int64)
    sentence_passage = np.asarray(sentence_passage, dtype=np.int64)

    n_passages = len(passage_title)
    passage_title_length = title_length[passage_title]
    terms = np.concatenate([title_ids[_spans(title_start[passage_title], passage_title_length)], sentence_ids])
    docs = np.concatenate([np.repeat(np.arange(n_passages), passage_title_length), sentence_passage[sentence_row]])
    lexical = LexicalIndex(_bm25(terms, docs, n_passages, vocab))

    n_sentences = len(sentences)
    sentence_title = passage_title[sentence_passage]
    sentence_title_length = title_length[sentence_title]
    terms = np.concatenate([title_ids[_spans(title_start[sentence_title], sentence_title_length)], sentence_ids])
    rows = np.concatenate([np.repeat(np.arange(n_sentences), sentence_title_length), sentence_row])
    return lexical, SentenceTerms.from_occurrences(terms, rows, n_sentences, len(vocab))
