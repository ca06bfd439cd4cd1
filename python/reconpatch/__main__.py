"""python3 -m reconpatch train|score|eval (see reconpatch.cli)."""
import sys

from .cli import main

sys.exit(main())
