"""``python -m bench``: run the benchmarks and rewrite ``docs/benchmarks.md``."""

from bench.cli import main

raise SystemExit(main())
