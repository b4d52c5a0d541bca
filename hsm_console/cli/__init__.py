"""The command line: the entry point (`main`), one function per command, terminal output."""
