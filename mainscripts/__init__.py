"""Command implementations: one module per `main.py` subcommand."""
