"""Ease of development, measured: code size, error locality and debugger reach.

`codesize` reads an implementation file's AST (no framework imported); `mistakes` plants the
classic mistakes in a scratch copy of an implementation's source; `tracebacks` reads what a
raised error shows its user; `probe` is the `sys.settrace` debugger probe; `scenario` runs
them all for one cell inside the worker (the `devex` scenario).
"""
