"""``system_prompt``: a learned prompt vector per system (dataset) id (ISFM_Prompt's HSE_prompt).

PHM-Vibench's SimpleSystemPromptEncoder: an embedding table ``prompt_embedding`` [num_prompts,
prompt_dim] (N(0, 0.1) init) looked up by each sample's id. Ids past the table wrap around
(``id % num_prompts``) and negative ids use row 0, as HSE_prompt maps them; each prompt is then
scaled down to norm ``max_norm`` when longer (HSE_prompt's guard against exploding prompts).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import Field

from vibench.compiler.blocks.base import INT_DTYPES, Block, ShapeContext
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


class SystemPromptParams(BlockParams):
    num_prompts: int = Field(50, ge=1, description="Rows of the prompt table (the reference's max_dataset_ids).")
    prompt_dim: int = Field(64, ge=1, description="Width of a prompt vector.")
    max_norm: float | None = Field(
        10.0, gt=0, description="Longer prompts are scaled down to this norm (None: no limit)."
    )
    tokens: int | None = Field(
        None, ge=1, description="Repeat each prompt over this many tokens: [B, tokens, prompt_dim] (None: no repeat)."
    )


class SystemPromptTable(nn.Module):
    """Prompt vectors [B, prompt_dim] for system ids [B] from a learned table (N(0, 0.1) init).

    Ids wrap around the table (``id % num_prompts``; negative ids use row 0); a prompt longer than
    ``max_norm`` is scaled to that norm (``max_norm`` 0: no limit). With ``tokens`` > 0 the prompt is
    repeated over that many tokens: [B, tokens, prompt_dim].
    """

    def __init__(self, num_prompts: int, prompt_dim: int, max_norm: float = 10.0, tokens: int = 0) -> None:
        super().__init__()
        self.prompt_embedding = nn.Embedding(num_prompts, prompt_dim)
        nn.init.normal_(self.prompt_embedding.weight, mean=0.0, std=0.1)
        self.num_prompts = num_prompts
        self.max_norm = max_norm
        self.tokens = tokens

    def extra_repr(self) -> str:
        sizes = f"{self.num_prompts}, {self.prompt_embedding.embedding_dim}"
        return f"{sizes}, max_norm={self.max_norm}, tokens={self.tokens}"

    def forward(self, system_id: torch.Tensor) -> torch.Tensor:
        ids = torch.where(system_id < 0, torch.zeros_like(system_id), system_id % self.num_prompts)
        prompts = self.prompt_embedding(ids)
        if self.max_norm > 0:
            norms = torch.linalg.vector_norm(prompts, dim=-1, keepdim=True)  # TorchScript: not .norm(dim=)
            prompts = prompts * torch.clamp(self.max_norm / (norms + 1e-8), max=1.0)
        if self.tokens > 0:
            prompts = prompts.unsqueeze(1).expand(-1, self.tokens, -1)
        return prompts


@register
class SystemPrompt(Block):
    """A learned prompt vector per system id (ISFM_Prompt's SimpleSystemPromptEncoder): ids [B] -> [B, prompt_dim].

    Table ``prompt_embedding`` [num_prompts, prompt_dim] (N(0, 0.1) init). Ids past the table wrap
    around (``id % num_prompts``), negative ids use row 0; a prompt longer than ``max_norm`` is scaled
    to that norm. ``tokens`` repeats the prompt over that many tokens ([B, tokens, prompt_dim]).
    """

    name = "system_prompt"
    Params = SystemPromptParams
    category = "embedding"
    inputs = ("system_id",)
    natives = (SystemPromptTable,)
    fresh_output = True
    test_ranks = (1,)
    test_dtypes = ("int64",)

    def output_is_fresh(self, out: TensorType) -> bool:
        # With `tokens` the prompts are expanded over the tokens, a view whose tokens share one memory
        # location: an in-place op on it (relu_, `out += x`, dropout) is refused by torch.
        return len(out.shape) == 2

    def infer(self, p: SystemPromptParams, ins: list[TensorType], ctx: ShapeContext) -> list[TensorType]:
        (ids,) = ins
        ctx.rank("system_id", ids, 1, "[B]")
        ctx.dtype("system_id", ids, INT_DTYPES, "system ids")
        if p.tokens is not None:
            return [TensorType((ids.shape[0], p.tokens, p.prompt_dim), ctx.float_dtype)]
        return [TensorType((ids.shape[0], p.prompt_dim), ctx.float_dtype)]

    def param_count(self, p: SystemPromptParams, ins: list[TensorType]) -> int:
        return p.num_prompts * p.prompt_dim

    def flops(self, p: SystemPromptParams, ins: list[TensorType], outs: list[TensorType]) -> Dim:
        return 4 * ins[0].shape[0] * p.prompt_dim

    def init_code(self, p: SystemPromptParams) -> Code:
        return c.call(SystemPromptTable.__name__, p.num_prompts, p.prompt_dim,
                      max_norm=non_default(p.max_norm if p.max_norm is not None else 0.0, 10.0),
                      tokens=non_default(p.tokens or 0, 0))
