"""Each call counted in the ledger of the task that made it: chat, embeddings, gathered
cells sharing it, a call handed to another thread's loop, nothing when no ledger is open."""

from __future__ import annotations

import asyncio
import threading

from dagen.config.models import ModelConfig
from dagen.inference.client import ModelClient
from dagen.inference.ledger import carrying, counting, current


def model(url: str, alias: str = "writer", **fields) -> ModelConfig:
    return ModelConfig(alias=alias, model=f"mock-{alias}", endpoint=url, **fields)


def test_gathered_calls_share_the_tasks_ledger_and_match_the_servers_tokens(server):
    async def task():
        writer = ModelClient(model(server.url))
        embedder = ModelClient(model(server.url, "emb", inference_parameters={"dimensions": 4}))
        try:
            with counting() as usage:
                prompts = [f"Say something about row {i}." for i in range(5)]
                await asyncio.gather(*(writer.chat([{"role": "user", "content": p}])
                                       for p in prompts))  # fmt: skip
                await embedder.embed(["a cat", "a dog"])
            await writer.chat([{"role": "user", "content": "after the task"}])  # not counted
            return usage
        finally:
            await writer.aclose()
            await embedder.aclose()

    usage = asyncio.run(task())

    by_model = server.stats()["by_model"]
    writer = by_model["mock-writer"]
    assert usage["writer"][0] == 5
    assert usage["writer"][1] < writer["prompt_tokens"]  # the sixth call was outside
    assert usage["emb"] == [1, by_model["mock-emb"]["prompt_tokens"], 0]


def test_a_call_handed_to_another_threads_loop_carries_the_ledger(server):
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    client = ModelClient(model(server.url))
    try:
        with counting() as usage:
            call = client.chat([{"role": "user", "content": "from a thread"}])
            asyncio.run_coroutine_threadsafe(carrying(current(), call), loop).result(10)
        assert usage["writer"][0] == 1
        assert usage["writer"][1] == server.stats()["by_model"]["mock-writer"]["prompt_tokens"]
    finally:
        asyncio.run_coroutine_threadsafe(client.aclose(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
    assert current() is None
