"""``python -m winback.cli``: the same as the ``winback`` script."""

from winback.cli import main

main()
