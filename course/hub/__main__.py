import sys

from course.hub.command import main

sys.exit(main())
