"""Holds N idle keep-alive HTTP connections to the server: each sends one request, reads the
answer, then stays open and silent. Prints how many were established and answered."""
import asyncio
import sys


async def one(host, port, hold, results):
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), 10)
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: bench\r\nConnection: keep-alive\r\n\r\n")
        await writer.drain()
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 30)
        if head.startswith(b"HTTP/1.1 200"):
            results["answered"] += 1
        await hold.wait()
        writer.close()
    except Exception:
        results["failed"] += 1


async def main(host, port, count, seconds):
    hold = asyncio.Event()
    results = {"answered": 0, "failed": 0}
    tasks = []
    for i in range(count):
        tasks.append(asyncio.create_task(one(host, port, hold, results)))
        if i % 500 == 499:
            await asyncio.sleep(0.05)
    deadline = asyncio.get_running_loop().time() + 60
    while results["answered"] + results["failed"] < count and asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(0.2)
    print(f"IDLE established={results['answered']} failed={results['failed']}", flush=True)
    await asyncio.sleep(seconds)
    hold.set()
    await asyncio.gather(*tasks, return_exceptions=True)


if __name__ == "__main__":
    host, port, count, seconds = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
    asyncio.run(main(host, port, count, seconds))
