"""Allow ``python -m ogcserver``."""

from ogcserver.cli import main

raise SystemExit(main())
