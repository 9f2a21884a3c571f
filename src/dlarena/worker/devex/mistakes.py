"""The classic mistakes, planted in a scratch copy of an implementation's source (stdlib only).

A mistake is a rewrite of the implementation file's text that returns the new source and the
line that now holds the mistake, or None when the file has no place for it (the framework's
API never asks for that value, so the mistake cannot be written there). Rewrites find their
place by the workload's own names (`HIDDEN`, `CLASSES` from its spec) and by the contract's
methods (`to_device`), never by a framework's API, so an implementation added later is
planted by the same rules. The real file is only ever read.
"""

from __future__ import annotations

import ast
from collections.abc import Callable
from dataclasses import dataclass

IMPLEMENTATION_CLASS = "Implementation"


@dataclass(frozen=True)
class Planted:
    source: str
    line: int  # 1-based line of the scratch file that holds the mistake
    text: str  # that line, stripped


@dataclass(frozen=True)
class Mistake:
    name: str
    description: str
    plant: Callable[[str], Planted | None]
    # The mistake is two declarations that disagree (a layer's width and the next layer's
    # input width). A framework that infers the second from the first has no second to get
    # wrong: the rewrite there declares a different, valid model, which trains with more
    # parameters. That outcome counts for the framework (the mistake cannot be made in it).
    inferable: bool = False


def _implementation_class(tree: ast.Module) -> ast.ClassDef | None:
    return next((node for node in tree.body if isinstance(node, ast.ClassDef)
                 and node.name == IMPLEMENTATION_CLASS), None)


def _replace_first(matches: Callable[[ast.AST], bool], replacement: Callable[[str], str]
                   ) -> Callable[[str], Planted | None]:
    """Rewrite the first expression of the file (in source order) that matches: the model
    may be defined in `Implementation` or in a module class beside it."""
    def plant(source: str) -> Planted | None:
        tree = ast.parse(source)
        if _implementation_class(tree) is None:
            return None
        found = sorted((node for node in ast.walk(tree) if isinstance(node, ast.expr)
                        and matches(node)), key=lambda n: (n.lineno, n.col_offset))
        if not found or found[0].end_lineno != found[0].lineno:
            return None
        node = found[0]
        lines = source.splitlines(keepends=True)
        line = lines[node.lineno - 1]
        start, end = _character_offsets(line, node.col_offset, node.end_col_offset or 0)
        lines[node.lineno - 1] = line[:start] + replacement(line[start:end]) + line[end:]
        return Planted("".join(lines), node.lineno, lines[node.lineno - 1].strip())
    return plant


def _character_offsets(line: str, *byte_offsets: int) -> tuple[int, ...]:
    """AST column offsets count UTF-8 bytes; slicing counts characters."""
    encoded = line.encode()
    return tuple(len(encoded[:offset].decode()) for offset in byte_offsets)


def _is_subscript(name: str, index: int) -> Callable[[ast.AST], bool]:
    def matches(node: ast.AST) -> bool:
        return (isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name)
                and node.value.id == name and isinstance(node.slice, ast.Constant)
                and node.slice.value == index)
    return matches


def _is_name(name: str) -> Callable[[ast.AST], bool]:
    def matches(node: ast.AST) -> bool:
        return isinstance(node, ast.Name) and node.id == name and isinstance(node.ctx, ast.Load)
    return matches


def _first_in_to_device(mistake: str) -> Callable[[str], Planted | None]:
    """Plant `mistake` (one statement on the numpy `inputs` and `labels`) as the first thing
    the implementation's `to_device` does: in its own method, or in one added that then
    calls the framework's. A mistake in the data, not the model: the same in every file."""
    statement = mistake + "\n"

    def plant(source: str) -> Planted | None:
        tree = ast.parse(source)
        owner = _implementation_class(tree)
        if owner is None:
            return None
        lines = source.splitlines(keepends=True)
        own = next((item for item in owner.body if isinstance(item, ast.FunctionDef)
                    and item.name == "to_device"), None)
        if own is not None:  # the implementation converts batches itself: first thing in it
            first = own.body[0]
            lines.insert(first.lineno - 1, " " * first.col_offset + statement)
            return Planted("".join(lines), first.lineno, mistake)
        indent = " " * (owner.body[0].col_offset)
        method = ["\n", f"{indent}def to_device(self, inputs, labels):\n",
                  f"{indent}    {statement}",
                  f"{indent}    return super().to_device(inputs, labels)\n"]
        end = owner.end_lineno or len(lines)
        if lines and not lines[end - 1].endswith("\n"):
            lines[end - 1] += "\n"
        lines[end:end] = method
        return Planted("".join(lines), end + 3, mistake)  # after a blank line and the def
    return plant


# Mistakes in the data a training step is given: every workload's files take them alike.
_DATA_MISTAKES = (
    Mistake("input_dtype", "integer (uint8) pixels fed to a float model",
            _first_in_to_device('inputs = inputs.astype("uint8")  # planted: integer pixels')),
    Mistake("label_count", "one label fewer than inputs (a batch's labels cut by one)",
            _first_in_to_device("labels = labels[:-1]  # planted: one label short")),
    Mistake("labels_off_by_one", "labels numbered 1..CLASSES instead of 0..CLASSES-1 (the "
            "largest is out of range)",
            _first_in_to_device("labels = labels + 1  # planted: labels from 1")),
    Mistake("missing_batch_axis", "one sample without its batch axis fed with a batch of "
            "labels",
            _first_in_to_device("inputs = inputs[0]  # planted: the batch axis indexed away")),
    Mistake("swapped_axes", "the batch axis swapped with the last one (a wrong transpose)",
            _first_in_to_device("inputs = inputs.swapaxes(0, -1)  # planted: wrong axis")),
    Mistake("nan_inputs", "a NaN in every input (a corrupt file, an unguarded division)",
            _first_in_to_device('inputs = inputs * float("nan")  # planted: NaN data')),
)
_CLASS_COUNT = Mistake(
    "class_count", "the output layer one class short of the labels the loss gets "
    "(CLASSES - 1 outputs)", _replace_first(_is_name("CLASSES"), lambda text: f"({text} - 1)"))

# The mistakes, by the workload whose names they are written in: at least 8 per framework.
MISTAKES: dict[str, tuple[Mistake, ...]] = {
    "mlp": (
        Mistake("dense_width", "a dense layer one unit too wide (the second hidden layer "
                "declared HIDDEN[1] + 1)",
                _replace_first(_is_subscript("HIDDEN", 1), lambda text: f"({text} + 1)"),
                inferable=True),
        _CLASS_COUNT,
        *_DATA_MISTAKES,
    ),
    "cnn": (
        Mistake("conv_width", "a convolution one channel too wide (its output channels "
                "declared c_out + 1)",
                _replace_first(_is_name("c_out"), lambda text: f"({text} + 1)"),
                inferable=True),
        _CLASS_COUNT,
        *_DATA_MISTAKES,
    ),
}
