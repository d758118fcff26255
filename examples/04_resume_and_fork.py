"""Continue a thread from a new process, and branch it."""

import asyncio

from codexkit import AsyncCodex


async def main() -> None:
    async with AsyncCodex() as codex:
        thread = await codex.start_thread()
        await thread.run("Remember this word: pelican.")
        thread_id = thread.id

    # Later, in another process: the thread is stored under CODEX_HOME.
    async with AsyncCodex() as codex:
        thread = await codex.resume_thread(thread_id)
        branch = await thread.fork()
        print("original:", await thread.ask("Which word did I ask you to remember?"))
        print("branch:  ", await branch.ask("Spell that word backwards."))


if __name__ == "__main__":
    asyncio.run(main())
