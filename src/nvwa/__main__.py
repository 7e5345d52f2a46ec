from nvwa.cli import main

raise SystemExit(main())
