"""`python -m gptkata <command>`: what the Makefile's targets run."""

import sys

from gptkata.cli import main

sys.exit(main())
