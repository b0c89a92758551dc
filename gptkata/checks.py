"""`python -m gptkata.checks`: the same command as `python -m gptkata.kata.checks`, kept under
the name it had before the package was split into its two wings."""

import sys

if __name__ == "__main__":
    from gptkata.kata.checks import main

    sys.exit(main())
