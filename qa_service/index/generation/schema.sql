-- meta.sqlite of an index generation (layout.FORMAT 7): the text and metadata beside the vectors.
-- Row numbers are shared with the vector files: passages.row is the row in passages.npy, dense.faiss
-- and the BM25 index; sentences.row is the row in sentences.npy and sentence_terms.npz.
-- No journal and no syncing: the file is new, and the whole generation is fsynced before it is used.
PRAGMA journal_mode = OFF;
PRAGMA synchronous = OFF;
CREATE TABLE articles (id TEXT PRIMARY KEY, title TEXT NOT NULL, date TEXT, url TEXT,
                       author TEXT, source TEXT, content_hash TEXT, n_paragraphs INTEGER);
CREATE TABLE paragraphs (article_id TEXT, number INTEGER, text TEXT,
                         PRIMARY KEY (article_id, number));
CREATE TABLE passages (row INTEGER PRIMARY KEY, article_id TEXT, paragraph INTEGER,
                       part INTEGER, start INTEGER, end INTEGER, text TEXT, hash TEXT);
CREATE TABLE sentences (row INTEGER PRIMARY KEY, passage_row INTEGER,
                        start INTEGER, end INTEGER, hash TEXT, terms TEXT, clues INTEGER,
                        entities TEXT, entity_labels INTEGER, n_terms INTEGER, text_key INTEGER);
