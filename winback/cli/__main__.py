"""``python -m winback.cli``: the same as the ``winback`` script."""

from winback.cli import main

if __name__ == "__main__":  # importing the module (a walk over the package) runs nothing
    main()
