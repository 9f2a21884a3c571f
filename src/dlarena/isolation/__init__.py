"""Keeping a worker's processes apart (standard library only): the lifeline that ends them
with the coordinator, and a private network namespace for ranks that listen on every
interface."""
