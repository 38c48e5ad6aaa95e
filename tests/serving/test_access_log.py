"""The access log's values (access_log.py): nothing a client sends can start a line or reach a terminal."""

from datetime import timedelta
from types import SimpleNamespace

from gunicorn.config import Config

from qa_service.serving.access_log import AccessLogger, escape


def test_quotes_backslashes_and_control_characters_are_escaped():
    assert escape('/x\nFORGED "q" \\ \x1b[2J \x7f \x9b é 한') == '/x\\x0aFORGED \\"q\\" \\\\ \\x1b[2J \\x7f \\x9b é 한'


def test_the_path_is_logged_as_sent_and_every_value_escaped():
    config = Config()
    config.set("access_log_format", '"%(m)s %(U)s %(H)s" %({user-agent}i)s %(s)s')
    logger = AccessLogger(config)
    environ = {"REQUEST_METHOD": "GET", "RAW_URI": "/x%0aY", "PATH_INFO": "/x\nY", "SERVER_PROTOCOL": "HTTP/1.1"}
    request = SimpleNamespace(path="/x%0aY", headers=[("USER-AGENT", "agent\x85")])
    response = SimpleNamespace(status="404 NOT FOUND", headers=[], sent=10)
    atoms = logger.atoms_wrapper_class(logger.atoms(response, request, environ, timedelta(milliseconds=3)))
    assert config.access_log_format % atoms == '"GET /x%0aY HTTP/1.1" agent\\x85 404'
