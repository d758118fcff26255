"""Several threads working at once on one app-server."""

import asyncio

from codexkit import AsyncCodex

QUESTIONS = [
    "Name one prime number.",
    "Name one even number.",
    "Name one odd number.",
]


async def main() -> None:
    async with AsyncCodex() as codex:
        threads = [await codex.start_thread(ephemeral=True) for _ in QUESTIONS]
        answers = await asyncio.gather(
            *(
                thread.ask(question, timeout=300)
                for thread, question in zip(threads, QUESTIONS, strict=True)
            )
        )
        for question, answer in zip(QUESTIONS, answers, strict=True):
            print(f"{question} -> {answer}")


if __name__ == "__main__":
    asyncio.run(main())
