from hsm_console.cli import main

raise SystemExit(main())
