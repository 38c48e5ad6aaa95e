"""`python -m qa_service.cli`: what the tests, benchmarks and devserver start."""

from . import main

main()
