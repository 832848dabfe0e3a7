"""python -m connector.cli: the `connector` command, for a venv without its script."""

from connector.cli import main

main()
