"""Watch a turn live: text as it is written, commands with their output."""

import asyncio

from codexkit import AgentMessageDelta, AsyncCodex, CommandExecutionItem, ItemCompleted


async def main() -> None:
    async with AsyncCodex() as codex:
        thread = await codex.start_thread(sandbox="read-only")
        turn = await thread.turn("List the Python files here and count their lines.")
        async for event in turn:
            if isinstance(event, AgentMessageDelta):
                print(event.delta, end="", flush=True)
            elif isinstance(event, ItemCompleted) and isinstance(event.item, CommandExecutionItem):
                print(f"\n$ {event.item.command}  (exit {event.item.exit_code})")
                print(event.item.aggregated_output or "")
        result = turn.result
        assert result is not None
        print(f"\n[{result.status}, {result.usage.total_tokens if result.usage else 0} tokens]")


if __name__ == "__main__":
    asyncio.run(main())
