"""Ask the agent one question and print its answer."""

import asyncio

from codexkit import AsyncCodex


async def main() -> None:
    async with AsyncCodex() as codex:
        thread = await codex.start_thread()
        answer = await thread.ask("In one sentence: what does this directory contain?")
        print(answer)


if __name__ == "__main__":
    asyncio.run(main())
