"""`python -m hieros_lab` is the same as the `hieros-lab` console script."""

try:
    from hieros_lab.cli import EXIT_INTERRUPTED, main
except KeyboardInterrupt:  # Ctrl-C while Python imports the CLI: nothing has started yet
    raise SystemExit(130) from None

try:
    code = main()
except KeyboardInterrupt:  # (main() handles its own; this covers the last instructions)
    code = EXIT_INTERRUPTED
raise SystemExit(code)
