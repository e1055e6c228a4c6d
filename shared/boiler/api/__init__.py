"""The views and commands of an app over HTTP, independent of the server that carries it.

``HttpApi`` (http.py) answers REST, JSON-RPC, ``/openapi.json`` and ``/docs`` requests given
as plain data; ``connectors/http_api.py`` deploys it as the https function ``api``.
"""
