"""``codexkit models``: codex's model catalogue."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from .._client.client import AsyncCodex
from ._common import (
    EXIT_OK,
    CodexHomeOption,
    DebugOption,
    JsonOption,
    execute,
    out,
    require_codex_home,
)

__all__ = ["models"]


def models(
    include_hidden: Annotated[
        bool, typer.Option("--all", help="Include models hidden from the picker.")
    ] = False,
    as_json: JsonOption = False,
    codex_home: CodexHomeOption = None,
    debug: DebugOption = False,
) -> None:
    """List the models codex offers (pass an id to `run --model`)."""

    async def main() -> int:
        async with AsyncCodex(codex_home=require_codex_home(codex_home)) as codex:
            catalogue = await codex.models(include_hidden=include_hidden)
        if as_json:
            out.print_json(data=[model.raw for model in catalogue])
            return EXIT_OK
        table = Table(box=None, header_style="bold", pad_edge=False)
        table.add_column("MODEL", style="cyan", no_wrap=True)
        table.add_column("NAME", no_wrap=True)
        table.add_column("REASONING", style="dim")
        table.add_column("DESCRIPTION", style="dim")
        for model in catalogue:
            name = Text(model.display_name)
            if model.is_default:
                name.append(" (default)", style="bold green")
            efforts = Text()
            for index, effort in enumerate(model.reasoning_efforts):
                if index:
                    efforts.append(" ")
                default = effort == model.default_reasoning_effort
                efforts.append(effort, style="bold" if default else "")
            table.add_row(model.id, name, efforts, model.description)
        out.print(table)
        return EXIT_OK

    execute(main, debug=debug)
