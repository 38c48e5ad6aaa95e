"""Reading: a question answered from a served generation: search, the answer sentence, follow-ups in their
editorial, overviews of a topic, and the fitted scorers they load. Uses index, ingest, text, config; no HTTP."""
