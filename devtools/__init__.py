"""Development-only tools, never shipped (not in the package, not in the deploy bundle): the
chaos harness (`devtools.chaos`), its meeting-room workload and checks, and the local stack
runner behind `./dev up` / `./dev exec` (`devtools.stack`)."""
