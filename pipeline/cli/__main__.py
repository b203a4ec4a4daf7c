"""``python -m pipeline.cli`` is the same as the ``adwatch`` console script."""

from pipeline.cli.main import main

main()
