"""`python -m hieros_lab` is the same as the `hieros-lab` console script."""

from hieros_lab.cli import main

raise SystemExit(main())
