"""`python -m gptkata.speed`: the same command as `python -m gptkata.kata.speed`, kept under
the name it had before the package was split into its two wings."""

import sys

if __name__ == "__main__":
    from gptkata.kata.speed import main

    sys.exit(main())
