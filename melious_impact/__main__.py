from melious_impact.cli import main

raise SystemExit(main())
