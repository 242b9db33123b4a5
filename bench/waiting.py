"""Waiting for answers: many clients holding `GET /api/v1/messages/<id>/?wait=`, Bearer POSTs beside them.

    python -m bench.waiting [--waiters 200] [--seconds 20] [--wait-slots 0,100]

For each WAIT_SLOTS given (the requests a web process holds while they
wait), the POSTs' latency alone, then with the waiters holding their
requests (or, where the server lets none wait, polling once a second as the
CLI does), then how long the waiters take to return once the question is
answered in the simulated Telegram. Prints a Markdown table.
"""

import argparse
import asyncio
import statistics
import tempfile
import threading
import time
from pathlib import Path

import httpx

from bench.run import Stack, percentile

QUESTION = {"text": "Ship v2.3?", "buttons": [[{"text": "Ship it", "answer": "yes"}, {"text": "Stop", "answer": "no"}]]}


def post_latencies(stack: Stack, token: str, seconds: float) -> list[float]:
    """Bearer POSTs one after another for `seconds`: each one's latency, in milliseconds."""
    latencies = []
    with httpx.Client(base_url=str(stack.api.base_url), timeout=30, trust_env=False) as client:
        headers = {"Authorization": f"Bearer {token}"}
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            started = time.perf_counter()
            response = client.post("/api/v1/messages/", json={"text": "beside the waiters"}, headers=headers)
            latencies.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 202, response.text
    return latencies


async def hold(stack: Stack, token: str, message_id: int, waiters: int, until: threading.Event) -> list[float]:
    """`waiters` clients each waiting for the answer; returns when each got it, in seconds after `until` was set."""
    returned: list[float] = []
    answered_at: list[float] = []
    limits = httpx.Limits(max_connections=waiters, max_keepalive_connections=waiters)
    base_url = str(stack.api.base_url)
    async with httpx.AsyncClient(base_url=base_url, timeout=400, limits=limits, trust_env=False) as client:

        async def wait() -> None:
            headers = {"Authorization": f"Bearer {token}"}
            while True:
                try:
                    response = await client.get(f"/api/v1/messages/{message_id}/", params={"wait": 60}, headers=headers)
                except httpx.TransportError:
                    # A kept-alive connection the server closed meanwhile: ask again on a new one.
                    continue
                if response.json()["answer"] is not None:
                    returned.append(time.monotonic())
                    return
                # A server that lets no request wait answers at once: poll once a second, as the CLI does.
                await asyncio.sleep(1)

        async def watch() -> None:
            while not until.is_set():
                await asyncio.sleep(0.01)
            answered_at.append(time.monotonic())

        await asyncio.gather(watch(), *(wait() for _ in range(waiters)))
    return [moment - answered_at[0] for moment in returned]


def measure(wait_slots: int, waiters: int, seconds: float) -> dict:
    workdir = Path(tempfile.mkdtemp(prefix="tgrelay-wait-")) / "run"
    with Stack(workdir, {"WAIT_SLOTS": str(wait_slots)}, accounts=2, limits=None, bot=True) as stack:
        asker, poster = stack.tokens
        alone = post_latencies(stack, poster, seconds)
        asked = stack.api.post("/api/v1/messages/", json=QUESTION, headers={"Authorization": f"Bearer {asker}"})
        message_id = asked.json()["id"]
        sent = wait_sent_question(stack)
        answered = threading.Event()
        result: dict = {}

        def run_holders() -> None:
            try:
                result.update(returns=asyncio.run(hold(stack, asker, message_id, waiters, answered)))
            except Exception as error:  # reported with the figures, not lost in a thread
                result.update(error=repr(error))

        holder = threading.Thread(target=run_holders)
        holder.start()
        time.sleep(3)
        beside = post_latencies(stack, poster, seconds)
        stack.control.post(
            f"/_control/chats/{sent['chat_id']}/messages/{sent['message_id']}/press",
            json={"from": sent["chat_id"], "text": "Ship it"},
        ).raise_for_status()
        answered.set()
        holder.join(120)
    return {
        "wait_slots": wait_slots,
        "alone": (statistics.median(alone), percentile(alone, 99), len(alone)),
        "beside": (statistics.median(beside), percentile(beside, 99), len(beside)),
        "returned": max(result.get("returns") or [float("nan")]),
        "waiters": len(result.get("returns") or []),
        "error": result.get("error", ""),
    }


def wait_sent_question(stack: Stack) -> dict:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        for record in stack.control.get("/_control/sent").json()["messages"]:
            if "reply_markup" in record:
                return record
        time.sleep(0.1)
    raise SystemExit("the question never reached the simulated Telegram")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--waiters", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--wait-slots", default="0,100", help="WAIT_SLOTS values to measure, comma-separated")
    options = parser.parse_args()
    rows = [measure(int(slots), options.waiters, options.seconds) for slots in options.wait_slots.split(",")]
    print(f"| WAIT_SLOTS | POSTs alone: p50 / p99 ms (n) | beside {options.waiters} waiters: p50 / p99 ms (n) "
          "| all waiters back after the answer |")  # fmt: skip
    print("| --- | --- | --- | --- |")
    for row in rows:
        alone, beside = row["alone"], row["beside"]
        print(
            f"| {row['wait_slots']} | {alone[0]:.1f} / {alone[1]:.1f} ({alone[2]}) | "
            f"{beside[0]:.1f} / {beside[1]:.1f} ({beside[2]}) | {row['returned']:.2f} s ({row['waiters']} waiters) |"
            + (f" {row['error']}" if row["error"] else "")
        )


if __name__ == "__main__":
    main()
