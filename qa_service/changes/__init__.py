"""Changes: articles added to and removed from the corpus folder with the index rebuilt as one step that completes
or is undone (the admin API's and `qa-service import`'s). Beside service; uses index, ingest, text, config."""
