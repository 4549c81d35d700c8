import sys

from proofs._main import main

sys.exit(main())
