"""qa_service: question answering over a newspaper's editorials."""

__version__ = "0.1.0"
