import sys

from hypofinder.cli import main

sys.exit(main())
