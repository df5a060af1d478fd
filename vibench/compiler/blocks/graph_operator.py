"""``graph_operator``: a graph neural operator on a fixed, fully connected sensor graph (GraphNO's layers).

As PHM-Vibench's NO/GraphNO: the graph over the N nodes of [..., N, H] is complete without self-loops,
its adjacency row-normalised (``adj_matrix``); the graph Fourier basis is the eigenvector matrix of
its Laplacian (``eigenvectors``, from ``torch.linalg.eigh``). Both are persistent buffers, as in the
reference, so a checkpoint carries them: the Laplacian of a complete graph has one eigenvalue of
multiplicity N - 1, whose eigenvectors LAPACK may choose differently on another machine.

Layers alternate (with ``use_spectral``; otherwise all are spatial):

* even layers, ``SpectralGraphConv``: graph Fourier transform, the lowest ``num_modes`` modes mixed
  across channels by the real part of complex weights [H, H, num_modes] (the imaginary part is
  stored and counted but, as in the reference, never reaches the real output), inverse transform.
  No bias, no activation;
* odd layers, ``GraphConv``: ``Linear(x) + Linear(adjacency @ x)``, LayerNorm, ReLU, Dropout.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import Field

from vibench.compiler.blocks.base import Block, ShapeContext, numel
from vibench.compiler.codegen import code as c
from vibench.compiler.codegen.code import Code, non_default
from vibench.compiler.ir import TensorType
from vibench.compiler.registry import register
from vibench.compiler.symbolic import Dim
from vibench.schemas.blocks import BlockParams

if TYPE_CHECKING:
    import torch
    from torch import nn
else:
    from vibench.compiler.blocks.torchless import nn, torch


MAX_GRAPH_NODES = 4096
"""Nodes of one graph: the constructor's eigendecomposition of the N x N Laplacian takes time N^3
(measured: 1,024 nodes 0.15 s, 2,048 1.2 s, 4,096 12.5 s on one core of the development machine)."""


class GraphOperatorParams(BlockParams):
    num_layers: int = Field(4, ge=1, description="Graph layers (spectral at even indices when use_spectral).")
    num_modes: int = Field(8, ge=1, description="Graph Fourier modes kept by the spectral layers (at most N used).")
    use_spectral: bool = Field(True, description="Spectral layers at even indices; false: every layer is spatial.")
    dropout: float = Field(0.1, ge=0, le=1, description="Dropout after each spatial layer (training mode).")
    num_nodes: int | None = Field(None, ge=1, description="Graph nodes N of [..., N, H] (inferred).")
    channels: int | None = Field(None, ge=1, description="Node features H of [..., N, H] (inferred).")


# -- torch implementations (copied into model.py) --------------------------------------------


class SpectralGraphConv(nn.Module):
    """Mix the lowest graph Fourier modes of [..., N, H] across channels (real part of complex weights)."""

    def __init__(self, channels: int, num_modes: int) -> None:
        super().__init__()
        self.num_modes = num_modes
        self.weights = nn.Parameter(torch.randn(channels, channels, num_modes, dtype=torch.cfloat) * 0.02)

    def extra_repr(self) -> str:
        return f"{self.weights.shape[0]}, num_modes={self.num_modes}"

    def forward(self, x: torch.Tensor, adjacency: torch.Tensor, eigenvectors: torch.Tensor) -> torch.Tensor:
        modes = min(self.num_modes, x.shape[-2])
        spectrum = torch.matmul(eigenvectors.t()[:modes], x)
        # .real of complex64 weights is float32: in the spectrum's dtype after model.double() or .bfloat16()
        mixed = torch.einsum("...ki,ijk->...kj", spectrum, self.weights.real[:, :, :modes].to(spectrum.dtype))
        return torch.matmul(eigenvectors[:, :modes], mixed)


class GraphConv(nn.Module):
    """``Linear(x) + Linear(adjacency @ x)`` over [..., N, H], then LayerNorm, ReLU and Dropout."""

    def __init__(self, channels: int, dropout: float = 0.1) -> None:
        super().__init__()
        self.linear_self = nn.Linear(channels, channels)
        self.linear_neighbor = nn.Linear(channels, channels)
        self.norm = nn.LayerNorm(channels)
        self.dropout = nn.Dropout(dropout)

    def extra_repr(self) -> str:
        return f"{self.linear_self.in_features}, dropout={self.dropout.p}"

    def forward(self, x: torch.Tensor, adjacency: torch.Tensor, eigenvectors: torch.Tensor) -> torch.Tensor:
        out = self.linear_self(x) + self.linear_neighbor(torch.matmul(adjacency, x))
        return self.dropout(torch.relu(self.norm(out)))


class GraphOperator(nn.Module):
    """Graph layers over [..., N, H] on the complete graph of N nodes (GraphNO's stack).

    Buffers: ``adj_matrix`` (row-normalised adjacency, no self-loops) and, with ``use_spectral``,
    ``eigenvectors`` (of the graph Laplacian; kept out of ``state_dict`` otherwise).
    """

    adj_matrix: torch.Tensor
    eigenvectors: torch.Tensor

    def __init__(
        self,
        channels: int,
        num_nodes: int,
        num_layers: int = 4,
        num_modes: int = 8,
        use_spectral: bool = True,
        dropout: float = 0.1,
    ) -> None:
        super().__init__()
        self.layers = nn.ModuleList(
            [
                SpectralGraphConv(channels, num_modes) if use_spectral and i % 2 == 0 else GraphConv(channels, dropout)
                for i in range(num_layers)
            ]
        )
        adjacency = torch.ones(num_nodes, num_nodes) - torch.eye(num_nodes)
        adjacency = adjacency / (adjacency.sum(dim=1, keepdim=True) + 1e-8)
        laplacian = torch.diag(adjacency.sum(dim=1)) - adjacency
        self.register_buffer("adj_matrix", adjacency)
        self.register_buffer("eigenvectors", torch.linalg.eigh(laplacian)[1], persistent=use_spectral)
        self.use_spectral = use_spectral

    def extra_repr(self) -> str:
        nodes, layers = self.adj_matrix.shape[0], len(self.layers)
        return f"num_nodes={nodes}, num_layers={layers}, use_spectral={self.use_spectral}"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.layers:
            x = layer(x, self.adj_matrix, self.eigenvectors)
        return x


# -- block ------------------------------------------------------------------------------------


@register
class GraphOperatorBlock(Block):
    """Graph neural operator layers over [..., N, H] on a fixed complete graph of the N nodes (GraphNO).

    Spectral layers (graph Fourier modes mixed by learned weights) alternate with spatial ones
    (self + neighbour-mean linear maps, LayerNorm, ReLU, Dropout). Output shaped like the input.
    ``state_dict``: ``layers.<i>.*``, the buffers ``adj_matrix`` and ``eigenvectors``. At most 4,096
    nodes: the constructor computes the eigenvectors of the N x N graph Laplacian.
    """

    name = "graph_operator"
    Params = GraphOperatorParams
    category = "operator"
    natives = (SpectralGraphConv, GraphConv, GraphOperator)
    stochastic = True
    # Not fresh: a last spatial layer returns relu's output itself wherever its dropout is the identity (eval
    # mode, p = 0), and relu's backward reads that output, so a later `torch.relu_` or `+=` broke the backward.
    test_ranks = (3, 4)
    test_hints = {"num_layers": (1, 2, 3), "num_modes": (1, 2, 8)}

    def infer(self, p: GraphOperatorParams, ins: list[TensorType], ctx: ShapeContext) -> list[TensorType]:
        (t,) = ins
        ctx.rank("x", t, range(3, 9), "[..., N, H]")
        ctx.dtype("x", t, frozenset({"float32"}))
        for given, dim, what, param in ((p.num_nodes, -2, "graph nodes N", "num_nodes"),
                                        (p.channels, -1, "node features H", "channels")):
            if given is not None:
                ctx.equal(t.shape[dim], given, port="x", what=what, t=t, param=param)
        nodes = ctx.concrete(t.shape[-2], "the graph nodes N", port="x")
        if nodes > MAX_GRAPH_NODES:
            raise ctx.fail(f"the graph has {nodes:,} nodes; the constructor computes the eigenvectors of its "
                           f"{nodes:,} x {nodes:,} Laplacian (time N^3)", code="E302", port="x", param="num_nodes",
                           expected=f"at most {MAX_GRAPH_NODES:,} graph nodes N (the second-last dimension)",
                           found=str(nodes), hint="GraphNO's nodes are sensors or channels; put the time axis "
                           "elsewhere (the last dimension holds the node features)")
        ctx.set("num_nodes", nodes)
        ctx.set("channels", ctx.concrete(t.shape[-1], "the node features H", port="x"))
        return [t]

    def _spectral_layers(self, p: GraphOperatorParams) -> int:
        return (p.num_layers + 1) // 2 if p.use_spectral else 0

    def param_count(self, p: GraphOperatorParams, ins: list[TensorType]) -> int:
        assert p.channels is not None
        h = p.channels
        spectral = self._spectral_layers(p)
        return spectral * 2 * h * h * p.num_modes + (p.num_layers - spectral) * (2 * (h * h + h) + 2 * h)

    def submodule_count(self, p: GraphOperatorParams, ins: list[TensorType]) -> int:
        return p.num_layers

    def unread_params(self, p: GraphOperatorParams) -> dict[str, str]:
        if not p.use_spectral:
            return {"num_modes": "with `use_spectral: true`"}
        if p.num_layers == 1:  # one spectral layer: the dropout follows spatial layers only
            return {"dropout": "with a spatial layer (`num_layers` of 2 or more, or `use_spectral: false`)"}
        return {}

    def buffer_count(self, p: GraphOperatorParams, ins: list[TensorType]) -> int:
        assert p.num_nodes is not None
        return 2 * p.num_nodes * p.num_nodes  # ``adj_matrix`` and ``eigenvectors``

    def flops(self, p: GraphOperatorParams, ins: list[TensorType], outs: list[TensorType]) -> Dim:
        assert p.channels is not None and p.num_nodes is not None
        h, n = p.channels, p.num_nodes
        modes = min(p.num_modes, n)
        spectral = self._spectral_layers(p)
        per_feature = spectral * 6 * modes + (p.num_layers - spectral) * (4 * h + 2 * n + 8)
        return numel(ins[0]) * per_feature

    def init_code(self, p: GraphOperatorParams) -> Code:
        return c.call(GraphOperator.__name__, p.channels, p.num_nodes, num_layers=non_default(p.num_layers, 4),
                      num_modes=non_default(p.num_modes, 8), use_spectral=non_default(p.use_spectral, True),
                      dropout=non_default(p.dropout, 0.1))
