"""pkilint's document nodes, built faster for the values a CA repeats.

pkilint builds a node (``PDUNode``) for every component of a certificate, and again for every
value its decoding validators decode, reading each pyasn1 value's components as it goes: about
1.5 µs a node, 140 nodes a certificate. Most of those values are shared between certificates
(``pki.lint_decoding`` keeps a CA's repeated parts, ``pki.lint`` its repeated decoded values), so
the shape of their subtrees (each descendant's name, value and parent) is the same every time.
``NodeBuilder`` reads a shared value's subtree once, keeps it as a flat ``_Template``, and then
creates its nodes straight from it: the same ``PDUNode`` objects with the same attributes, in
about half the time. Values that are not shared are read as pkilint reads them.

Reading a shared value again would give the same subtree: pkilint never changes a value, and
pyasn1 only fills in absent components on the first read (``tests/unit/test_lint_speed.py``
compares the documents, node by node and value by value, with pkilint's own).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pkilint.document import Document, PDUNode, get_node_name_for_pdu
from pyasn1.type.univ import Choice, SequenceAndSetBase, SequenceOfAndSetOfBase

# A subtree's descendants in document order: (index of the parent in this list, or -1 for the
# subtree's own node; the node's name; its pyasn1 value).
_Template = list[tuple[int, str, Any]]


def _child_values(value: Any) -> list[tuple[str, Any]]:
    """The (name, value) of a node's children, as ``PDUNode`` reads them from its value."""
    if isinstance(value, Choice):
        return [(value.getName(), value.getComponent())]
    if isinstance(value, SequenceOfAndSetOfBase):
        return [(str(i), component) for i, component in enumerate(value)]
    if isinstance(value, SequenceAndSetBase):
        return [(name, component) for name, component in value.items() if component.isValue]
    return []


def _node(doc: Document, name: str, value: Any, parent: PDUNode | None, path: str) -> PDUNode:
    """A ``PDUNode`` with no children yet, with the attributes its ``__init__`` sets."""
    node: PDUNode = object.__new__(PDUNode)
    node.__dict__ = {"document": doc, "name": name, "pdu": value, "parent": parent,
                     "path": path, "children": {}}
    return node


class NodeBuilder:
    """``create_and_append_node_from_pdu``, with the subtrees of shared values remembered.

    ``shared(value)`` tells which values are shared; their subtrees are kept (at most ``limit``,
    all forgotten when exceeded), each with the value itself, so its id stays its own.
    """

    def __init__(self, shared: Callable[[Any], bool], limit: int) -> None:
        self._shared = shared
        self.limit = limit
        self._templates: dict[int, tuple[Any, _Template]] = {}

    def append(self, doc: Document, value: Any, parent: PDUNode | None, *,
               shared: bool = False) -> PDUNode:
        """A node for ``value`` (named after its type) and its subtree, appended to ``parent``'s
        children; ``shared``: ``value`` is shared whatever ``shared(value)`` says."""
        name = get_node_name_for_pdu(value)
        node = _node(doc, name, value, parent,
                     name if parent is None else f"{parent.path}.{name}")
        self._fill(node, value, shared)
        if parent is not None:
            parent.children[name] = node
        return node

    def _fill(self, node: PDUNode, value: Any, shared: bool) -> None:
        """``node``'s subtree: from the template of a shared value seen before, else read from
        the values (and a shared value's template recorded on the way)."""
        if not (shared or self._shared(value)):
            self._read(node, value, -1, None)
            return
        found = self._templates.get(id(value))
        if found is not None and found[0] is value:
            self._from_template(node, found[1])
            return
        template: _Template = []
        self._read(node, value, -1, template)
        if len(self._templates) >= self.limit:
            self._templates.clear()
        self._templates[id(value)] = (value, template)

    def _read(self, node: PDUNode, value: Any, at: int, template: _Template | None) -> None:
        """``node``'s subtree read from ``value`` as ``PDUNode`` reads it. With a ``template``,
        each descendant is added to it (``at``: the index there of ``node``, -1 for the top);
        without, each child goes through ``_fill`` (it may be shared)."""
        doc, children, path = node.document, node.children, node.path
        for name, component in _child_values(value):
            child = children[name] = _node(doc, name, component, node, f"{path}.{name}")
            if template is None:
                self._fill(child, component, False)
            else:
                template.append((at, name, component))
                self._read(child, component, len(template) - 1, template)

    @staticmethod
    def _from_template(top: PDUNode, template: _Template) -> None:
        doc = top.document
        nodes: list[PDUNode] = []
        for at, name, value in template:
            parent = top if at < 0 else nodes[at]
            node = _node(doc, name, value, parent, f"{parent.path}.{name}")
            parent.children[name] = node
            nodes.append(node)
