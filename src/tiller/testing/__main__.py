"""`python -m tiller.testing --script script.json`: run the fake OpenAI server."""

from __future__ import annotations

import sys

from tiller.testing.server import main

sys.exit(main())
