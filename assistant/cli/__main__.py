"""`python -m assistant.cli …`: the same as the `planqa` command."""

import sys

from assistant.cli import main

if __name__ == "__main__":
    sys.exit(main())
