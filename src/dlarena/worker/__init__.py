"""What runs inside a worker process, and nowhere else: the entry point (`main`), each
scenario's measurement (`runners`, `timing`, `memory`, `dataload`, `data_parallel`'s ranks,
`deployment`, `devex/`) and the matrix-product probe (`peak`). Standard library, NumPy and the
one framework of the cell; the coordinator never imports this package (the architecture test
says so), it starts `python -m dlarena.worker`."""
