"""Typed errors and time limits: nothing hangs, everything says what went wrong."""

import asyncio

from codexkit import AsyncCodex, CodexTimeoutError, TransportClosedError, TurnFailedError


async def main() -> None:
    async with AsyncCodex(turn_idle_timeout=120) as codex:
        thread = await codex.start_thread()
        try:
            result = await thread.run("Summarise the README in two lines.", timeout=600)
        except TurnFailedError as exc:
            print("the turn failed:", exc.error.get("message"))
            print("items before the failure:", len(exc.result.items))
        except CodexTimeoutError:
            print("no answer in time; the turn was interrupted")
        except TransportClosedError as exc:
            print("the app-server went away:", exc.exit_code, exc.stderr_tail)
        else:
            print(result.final_response)


if __name__ == "__main__":
    asyncio.run(main())
