"""`python -m gptkata.bench`: the same command as `python -m gptkata.lab.bench`, kept under
the name it had before the package was split into its two wings."""

import sys

if __name__ == "__main__":
    from gptkata.lab.bench import main

    sys.exit(main())
