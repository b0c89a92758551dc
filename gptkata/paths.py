"""Where things live in the repository. Every other module asks here."""

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXERCISES = ROOT / "exercises"
SOLUTIONS = ROOT / "solutions"
KATA_TESTS = ROOT / "tests" / "katas"
DATA = ROOT / "data"
BACKUPS = ROOT / "backups"
RUNS = ROOT / "runs"
# A student edition ships without (most of) solutions/; its pristine stubs live here.
PRISTINE = ROOT / "gptkata" / "kata" / "pristine"
