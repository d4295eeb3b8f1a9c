"""At DEBUG, the WebSocket lines of both ends leave out the token and the data."""

import logging

import pytest
from websockets.asyncio.client import connect
from websockets.asyncio.server import ServerConnection, serve

from kdebug_agent.protocol import WireLogger

TOKEN = "s3cr3t-t0ken-value"
TYPED = b"\x00typed-secret"


async def test_headers_and_frames_are_logged_without_secrets(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def echo(connection: ServerConnection) -> None:
        async for message in connection:
            await connection.send(message)

    caplog.set_level(logging.DEBUG)
    server_log = WireLogger(logging.getLogger("websockets.server"))
    async with serve(echo, "127.0.0.1", 0, logger=server_log) as server:
        port = server.sockets[0].getsockname()[1]
        async with connect(
            f"ws://127.0.0.1:{port}",
            additional_headers={"Authorization": f"Bearer {TOKEN}"},
            logger=WireLogger(logging.getLogger("websockets.client")),
        ) as client:
            await client.send(TYPED)
            assert await client.recv() == TYPED
            await client.send('{"registry_auth": "hunter2"}')
            await client.recv()

    text = caplog.text
    assert TOKEN not in text
    assert "typed-secret" not in text
    assert TYPED[1:5].hex(" ") not in text
    assert "hunter2" not in text
    # The lines stay, to follow a session by.
    assert "> Authorization: [redacted]" in text
    assert "< Authorization: [redacted]" in text
    assert "> BINARY channel 0 [13 bytes]" in text
    assert "< TEXT [28 bytes]" in text
    assert "CLOSE 1000 (OK)" in text
