"""`python -m gptkata.sample`: the same command as `python -m gptkata.lab.sample`, kept under
the name it had before the package was split into its two wings."""

import sys

if __name__ == "__main__":
    from gptkata.lab.sample import main

    sys.exit(main())
