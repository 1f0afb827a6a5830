"""`python -m prodlike.pipelines.cli`: the same as the `prodlike` console script."""

import sys

from prodlike.pipelines.cli.main import main

sys.exit(main())
