"""Named entities, found once at build time: stored per sentence, read back, and only new text tagged."""

from __future__ import annotations

import json

from qa_service.index.entities import BIT, decode, encode, find_entities, labels_mask
from qa_service.index.generation.build import build_index
from qa_service.index.generation.layout import FORMAT, MANIFEST, read_current_name
from qa_service.index.generation.read import Snapshot

from ..fakes import HashingEmbedder
from ..fixtures import WATER_ID, make_corpus, write_article


def sentence_rows_with(snapshot: Snapshot, words: str) -> list[int]:
    found = []
    for row in range(len(snapshot.sentence_passage)):
        start, end = snapshot.sentence_span[row]
        if words in snapshot.passage_text[int(snapshot.sentence_passage[row])][start:end]:
            found.append(row)
    return found


def by_text(snapshot: Snapshot) -> dict[str, tuple[str, tuple[float, ...]]]:
    """Each sentence's entities and voice, by its text."""
    found = {}
    for row in range(len(snapshot.sentence_passage)):
        start, end = snapshot.sentence_span[row]
        text = snapshot.passage_text[int(snapshot.sentence_passage[row])][start:end]
        found[text] = (snapshot.sentence_entities[row], tuple(snapshot.sentence_voice[row].tolist()))
    return found


def test_the_model_finds_people_places_dates_and_numbers():
    [spans] = find_entities(["Mayor Viktor Hallam closed the river line in Kessling on Tuesday after 112 people fell."])
    text = "Mayor Viktor Hallam closed the river line in Kessling on Tuesday after 112 people fell."
    found = {(text[s:e], label) for s, e, label in spans}
    assert {("Viktor Hallam", "PERSON"), ("Kessling", "GPE"), ("Tuesday", "DATE"), ("112", "CARDINAL")} <= found
    assert decode(encode(spans)) == spans and decode("") == []
    assert labels_mask(["PERSON", "DATE"]) == BIT["PERSON"] | BIT["DATE"] and labels_mask(["NOT A LABEL"]) == 0


def test_each_sentence_keeps_its_entities_in_the_generation(snapshot):
    [row] = sentence_rows_with(snapshot, "Margit Solberg, president of the Arlen Valley Water Board since 2012")
    assert snapshot.passage_article[int(snapshot.sentence_passage[row])] == WATER_ID
    assert snapshot.sentence_entity_labels[row] & BIT["PERSON"] and snapshot.sentence_entity_labels[row] & BIT["DATE"]
    start, _ = snapshot.sentence_span[row]
    sentence = snapshot.passage_text[int(snapshot.sentence_passage[row])][start:]
    entities = {sentence[s:e]: label for s, e, label in decode(snapshot.sentence_entities[row])}
    assert entities.get("Margit Solberg") == "PERSON" and entities.get("2012") == "DATE"
    assert snapshot.manifest["format"] == FORMAT


def test_an_added_article_is_the_only_text_tagged(tmp_path):
    corpus = make_corpus(tmp_path / "corpus")
    index = tmp_path / "index"
    first = build_index(corpus, index, HashingEmbedder())
    before = Snapshot(index / read_current_name(index))
    assert first.paragraphs_tagged == sum(len(t) for t in before.paragraphs.values())
    write_article(corpus, "ferry.txt", "A new ferry for Grimsvik", ["The ferry from Grimsvik sails at nine.",
                                                                      "Captain Rhona Bell commands it."])
    added = build_index(corpus, index, HashingEmbedder())
    assert added.paragraphs_tagged == 2
    after = Snapshot(index / read_current_name(index))
    assert by_text(before) == {k: v for k, v in by_text(after).items() if k in by_text(before)}, "carried over"
    [captain] = sentence_rows_with(after, "Captain Rhona Bell commands it.")
    assert after.sentence_entity_labels[captain] & BIT["PERSON"]


def test_an_index_of_an_older_format_is_rebuilt_saying_why(tmp_path, fake_cli):
    corpus = make_corpus(tmp_path / "corpus")
    index = tmp_path / "index"
    assert fake_cli("index", "--corpus", str(corpus), "--index", str(index), "--quiet").exit_code == 0
    manifest = index / read_current_name(index) / MANIFEST
    manifest.write_text(json.dumps({**json.loads(manifest.read_text()), "format": 6}))
    result = fake_cli("index", "--corpus", str(corpus), "--index", str(index), "--quiet")
    assert result.exit_code == 0, result.output
    assert f"written by an earlier version (format 6, now {FORMAT})" in result.output
    assert "named entities" in result.output and "vectors are reused" in result.output
    assert Snapshot(index / read_current_name(index)).manifest["format"] == FORMAT


def test_a_folder_switched_back_to_is_not_tagged_again(tmp_path):
    """Its articles' cuts (entities and voice with them) are taken from the older generation that holds them."""
    editorials, other = make_corpus(tmp_path / "editorials"), tmp_path / "other"
    other.mkdir()
    write_article(other, "ferry.txt", "A new ferry for Grimsvik", ["The ferry from Grimsvik sails at nine."])
    index = tmp_path / "index"
    build_index(editorials, index, HashingEmbedder())
    first = by_text(Snapshot(index / read_current_name(index)))
    assert build_index(other, index, HashingEmbedder(), switch_corpus=True).paragraphs_tagged == 1
    back = build_index(editorials, index, HashingEmbedder(), switch_corpus=True)
    assert back.paragraphs_tagged == 0 and back.texts_embedded == 0
    assert by_text(Snapshot(index / read_current_name(index))) == first
