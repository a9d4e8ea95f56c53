"""Where each step of a workflow is drawn: a layered layout, pure (no database, no Flask).

Steps are placed top to bottom in layers by their longest path from a root, so every edge
points down. An edge that spans several layers passes through virtual points, one per layer
it crosses, which take part in the ordering like steps do. The steps of a layer are ordered to
cut crossings by barycentre sweeps (each node moves to the mean position of its neighbours in
the layer above, then below, a few times over), and each layer is centred. Edges come out as
SVG path data (cubic curves through their points) with a spot for their label.

The layout does not require a valid definition: the editor draws what the user typed while it
still has problems, so edges to unknown steps are dropped and an edge closing a cycle is drawn
straight, against the flow, instead of being layered.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .graph import Definition

NODE_WIDTH = 168
NODE_HEIGHT = 46
#: Horizontal room of a step, and of a virtual point an edge passes through.
NODE_GAP = 28
VIRTUAL_WIDTH = 16
LAYER_GAP = 64
MARGIN = 16
#: Barycentre passes (one down and one up each); more rarely improves what 4 give.
SWEEPS = 4
#: Beyond this many virtual points, long edges are drawn straight instead (a pathological graph
#: such as every step of a 1,000-step chain joined into the last one would need ~500,000).
MAX_VIRTUAL = 20_000


@dataclass(frozen=True)
class NodeBox:
    """A step's box: its top-left corner, size, layer (row) and place in the layer."""

    key: str
    x: float
    y: float
    width: float
    height: float
    layer: int
    order: int

    @property
    def centre_x(self) -> float:
        return self.x + self.width / 2


@dataclass(frozen=True)
class EdgePath:
    """An edge as SVG path data `d`, with where its label goes; `backward` closes a cycle."""

    source: str
    target: str
    on: str
    d: str
    label_x: float
    label_y: float
    backward: bool = False


@dataclass(frozen=True)
class Layout:
    nodes: tuple[NodeBox, ...]
    edges: tuple[EdgePath, ...]
    width: float
    height: float

    def to_obj(self) -> dict[str, Any]:
        """The layout as JSON (the preview endpoint's `layout`)."""
        return {
            "width": self.width,
            "height": self.height,
            "nodes": [
                {"key": n.key, "x": n.x, "y": n.y, "width": n.width, "height": n.height, "layer": n.layer, "order": n.order}
                for n in self.nodes
            ],
            "edges": [
                {"from": e.source, "to": e.target, "on": e.on, "d": e.d, "label_x": e.label_x, "label_y": e.label_y, "backward": e.backward}
                for e in self.edges
            ],
        }


def layout_definition(definition: Definition) -> Layout:
    return layout_graph(definition.keys, [(e.source, e.target, e.on.value) for e in definition.edges])


def layout_graph(keys: Sequence[str], edges: Sequence[tuple[str, str, str]]) -> Layout:
    """Positions for steps `keys` (in definition order) joined by `edges` (from, to, condition)."""
    keys = list(dict.fromkeys(keys))
    known = set(keys)
    edges = [e for e in edges if e[0] in known and e[1] in known and e[0] != e[1]]
    if not keys:
        return Layout((), (), 2 * MARGIN, 2 * MARGIN)
    forward, backward = _split_cycles(keys, edges)
    layer = _layers(keys, edges, forward)
    chains, layers = _chains(keys, edges, forward, layer)
    links = _links(edges, forward, chains)
    _order(layers, links)
    xs = _x_positions(layers, links)
    nodes: dict[str, NodeBox] = {}
    for row, members in enumerate(layers):
        for order, member in enumerate(members):
            if isinstance(member, str):
                nodes[member] = NodeBox(member, xs[member], _top(row), NODE_WIDTH, NODE_HEIGHT, row, order)
    paths: list[EdgePath] = []
    for index, (source, target, on) in enumerate(edges):
        a, b = nodes[source], nodes[target]
        if index in backward:
            start, end = (a.centre_x, a.y), (b.centre_x, b.y + b.height)
            paths.append(_straight(source, target, on, start, end, backward=True))
            continue
        points = [(a.centre_x, a.y + a.height)]
        for row, virtual in enumerate(chains.get(index, ()), start=a.layer + 1):
            x = xs[virtual] + VIRTUAL_WIDTH / 2
            points += [(x, _top(row)), (x, _top(row) + NODE_HEIGHT)]
        points.append((b.centre_x, b.y))
        paths.append(_curve(source, target, on, points))
    width = max(x + _width(member) for member, x in xs.items()) + MARGIN
    height = _top(len(layers)) - LAYER_GAP + MARGIN
    return Layout(tuple(nodes[k] for k in keys), tuple(paths), width, height)


def _top(row: int) -> float:
    return MARGIN + row * (NODE_HEIGHT + LAYER_GAP)


def _split_cycles(keys: list[str], edges: list[tuple[str, str, str]]) -> tuple[list[int], set[int]]:
    """Indexes of the edges that keep the graph acyclic, and of those that close a cycle
    (found by a depth-first search from each step in order)."""
    outbound: dict[str, list[int]] = {k: [] for k in keys}
    for i, (source, _target, _on) in enumerate(edges):
        outbound[source].append(i)
    state = dict.fromkeys(keys, 0)  # 0 unseen, 1 on the current path, 2 done
    backward: set[int] = set()
    for start in keys:
        if state[start]:
            continue
        state[start] = 1
        stack = [(start, iter(outbound[start]))]
        while stack:
            node, todo = stack[-1]
            index = next(todo, None)
            if index is None:
                state[node] = 2
                stack.pop()
                continue
            target = edges[index][1]
            if state[target] == 1:
                backward.add(index)
            elif state[target] == 0:
                state[target] = 1
                stack.append((target, iter(outbound[target])))
    return [i for i in range(len(edges)) if i not in backward], backward


def _layers(keys: list[str], edges: list[tuple[str, str, str]], forward: list[int]) -> dict[str, int]:
    """Each step's layer: the length of the longest path to it from a root (over `forward`)."""
    outbound: dict[str, list[str]] = {k: [] for k in keys}
    indegree = dict.fromkeys(keys, 0)
    for index in forward:
        source, target, _on = edges[index]
        outbound[source].append(target)
        indegree[target] += 1
    layer = dict.fromkeys(keys, 0)
    ready = [k for k in keys if indegree[k] == 0]
    while ready:
        node = ready.pop()
        for target in outbound[node]:
            layer[target] = max(layer[target], layer[node] + 1)
            indegree[target] -= 1
            if indegree[target] == 0:
                ready.append(target)
    return layer


Member = str | int  # a step key, or the number of a virtual point


def _chains(keys: list[str], edges: list[tuple[str, str, str]], forward: list[int], layer: dict[str, int]) -> tuple[dict[int, list[int]], list[list[Member]]]:
    """The virtual points of each long forward edge (by edge index), and the layers' members in
    their first order: steps in definition order, then virtual points as they were made."""
    depth = max(layer.values()) + 1
    layers: list[list[Member]] = [[] for _ in range(depth)]
    for key in keys:
        layers[layer[key]].append(key)
    chains: dict[int, list[int]] = {}
    made = 0
    for index in forward:
        source, target, _on = edges[index]
        span = layer[target] - layer[source] - 1
        if span <= 0 or made + span > MAX_VIRTUAL:
            continue
        chain = list(range(made, made + span))
        made += span
        chains[index] = chain
        for row, virtual in enumerate(chain, start=layer[source] + 1):
            layers[row].append(virtual)
    return chains, layers


def _links(edges: list[tuple[str, str, str]], forward: list[int], chains: dict[int, list[int]]) -> list[tuple[Member, Member]]:
    """The forward edges cut into pieces between adjacent layers (upper end first)."""
    links: list[tuple[Member, Member]] = []
    for index in forward:
        source, target, _on = edges[index]
        path: list[Member] = [source, *chains.get(index, ()), target]
        links.extend(zip(path, path[1:], strict=False))
    return links


def _order(layers: list[list[Member]], links: list[tuple[Member, Member]]) -> None:
    """Reorder each layer in place by barycentre sweeps, down then up, SWEEPS times."""
    above: dict[Member, list[Member]] = {}
    below: dict[Member, list[Member]] = {}
    for upper, lower in links:
        above.setdefault(lower, []).append(upper)
        below.setdefault(upper, []).append(lower)
    position: dict[Member, int] = {}
    for members in layers:
        position.update((m, i) for i, m in enumerate(members))

    def sweep(row: int, neighbours: dict[Member, list[Member]]) -> None:
        members = layers[row]

        def barycentre(member: Member) -> float:
            near = neighbours.get(member)
            if not near:
                return float(position[member])
            return sum(position[n] for n in near) / len(near)

        members.sort(key=lambda m: (barycentre(m), position[m]))
        position.update((m, i) for i, m in enumerate(members))

    for _ in range(SWEEPS):
        for row in range(1, len(layers)):
            sweep(row, above)
        for row in range(len(layers) - 2, -1, -1):
            sweep(row, below)


def _width(member: Member) -> float:
    return NODE_WIDTH if isinstance(member, str) else VIRTUAL_WIDTH


def _x_positions(layers: list[list[Member]], links: list[tuple[Member, Member]]) -> dict[Member, float]:
    """Left edges: each member of a layer as near as the spacing allows to the mean centre of
    what it hangs from in the layer above (so chains run straight and fan-outs centre under
    their source), the layer kept in its order; then everything shifted to start at MARGIN."""
    above: dict[Member, list[Member]] = {}
    for upper, lower in links:
        above.setdefault(lower, []).append(upper)
    centre: dict[Member, float] = {}
    for members in layers:
        wanted: list[float] = []
        for i, member in enumerate(members):
            near = [centre[n] for n in above.get(member, ()) if n in centre]
            if near:
                wanted.append(sum(near) / len(near))
            else:  # a root: after the previous member of its layer
                wanted.append(wanted[-1] + (_width(members[i - 1]) + _width(member)) / 2 + NODE_GAP if wanted else 0.0)
        placed: list[float] = []
        for i, member in enumerate(members):
            if placed:
                least = placed[-1] + (_width(members[i - 1]) + _width(member)) / 2 + NODE_GAP
                placed.append(max(wanted[i], least))
            else:
                placed.append(wanted[i])
        # pushing right moved the layer off what it hangs from: shift it back by the mean push
        shift = sum(w - p for w, p in zip(wanted, placed, strict=True)) / len(placed)
        centre.update((m, p + shift) for m, p in zip(members, placed, strict=True))
    least_left = min(c - _width(m) / 2 for m, c in centre.items())
    return {m: round(c - _width(m) / 2 - least_left + MARGIN, 1) for m, c in centre.items()}


def _curve(source: str, target: str, on: str, points: list[tuple[float, float]]) -> EdgePath:
    """Vertical S-curves between layers, straight lines through a virtual point's own height."""
    parts = [f"M{_n(points[0][0])},{_n(points[0][1])}"]
    for (x0, y0), (x1, y1) in zip(points, points[1:], strict=False):
        if x0 == x1:
            parts.append(f"L{_n(x1)},{_n(y1)}")
        else:
            middle = (y0 + y1) / 2
            parts.append(f"C{_n(x0)},{_n(middle)} {_n(x1)},{_n(middle)} {_n(x1)},{_n(y1)}")
    (x0, y0), (x1, y1) = points[-2], points[-1]
    return EdgePath(source, target, on, " ".join(parts), round((x0 + x1) / 2, 1), round((y0 + y1) / 2, 1))


def _straight(source: str, target: str, on: str, start: tuple[float, float], end: tuple[float, float], *, backward: bool) -> EdgePath:
    d = f"M{_n(start[0])},{_n(start[1])} L{_n(end[0])},{_n(end[1])}"
    return EdgePath(source, target, on, d, round((start[0] + end[0]) / 2, 1), round((start[1] + end[1]) / 2, 1), backward)


def _n(value: float) -> str:
    """A coordinate with at most one decimal (SVG needs no more, and the text stays short)."""
    return f"{value:.1f}".rstrip("0").rstrip(".")
