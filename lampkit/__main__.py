from lampkit.cli import main

raise SystemExit(main())
