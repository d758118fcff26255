"""The one-shot engine behind :mod:`codexkit.exec`: one ``codex exec --json`` process a turn.

- ``_command``: thread options, the command line of a turn, and the private files it names;
- ``_process``: the child process, its stdout lines and its stderr tail;
- ``_mapping``: exec's JSONL events onto the app-server client's events and items;
- ``_stream``: one turn, ``ExecStream``, and ``ExecError`` (both public in ``codexkit.exec``).
"""
