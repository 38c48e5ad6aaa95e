"""Evaluation: `qa-service eval`'s measures (questions, conversations, topics) and `qa-service fit`'s fitting of
the scorers. The top layer with cli and serving: it asks through service, like the API."""
