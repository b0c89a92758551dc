"""`python -m gptkata.train`: the same command as `python -m gptkata.lab.train_cli`, kept under
the name it had before the package was split into its two wings."""

import sys

if __name__ == "__main__":
    from gptkata.lab.train_cli import main

    sys.exit(main())
