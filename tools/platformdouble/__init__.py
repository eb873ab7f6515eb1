"""Platform doubles: CodeMie, OpenAI-compatible and webhook servers for real runner pods."""

from platformdouble.server import API_KEY, SIGNING_SECRET, TOKEN, DoubleServer

__all__ = ["API_KEY", "SIGNING_SECRET", "TOKEN", "DoubleServer"]
