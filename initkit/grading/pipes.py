"""The trusted side's pipes to one child: requests out, replies and output in, never blocking.

Four pipes per child: requests (trusted -> child), replies (child -> trusted, framed
:mod:`initkit.grading.protocol` messages), and the child's stdout and stderr. One
``selectors`` loop reads whatever is ready: replies go into a
:class:`~initkit.grading.protocol.FrameReader` (bounded: a flood is a protocol error), output
into :class:`OutputStream` buffers that keep ``cap`` bytes and count the rest, so a child
printing 100 MB neither blocks on a full pipe nor fills the grader's memory.
"""

from __future__ import annotations

import os
import selectors
from dataclasses import dataclass, field

from . import protocol


@dataclass
class OutputStream:
    """The first ``cap`` bytes of a stream, and how many more were dropped."""

    cap: int
    data: bytearray = field(default_factory=bytearray)
    dropped: int = 0

    def add(self, chunk: bytes) -> None:
        """Keep what fits under the cap, count the rest."""
        room = self.cap - len(self.data)
        if room > 0:
            self.data += chunk[:room]
        self.dropped += max(0, len(chunk) - max(room, 0))

    def text(self) -> str:
        """The kept bytes as text, with a note of what was dropped."""
        out = self.data.decode("utf-8", errors="replace")
        if self.dropped:
            out += f"\n[... {self.dropped} more bytes of output dropped ...]"
        return out


class Channel:
    """The trusted side's ends of one child's pipes.

    Args:
        request_w: write end of the request pipe.
        reply_r: read end of the reply pipe.
        stdout, stderr: readable file objects of the child's output pipes.
        out, err: where their bytes go.
        max_total: most bytes of messages buffered at once.
    """

    def __init__(self, request_w: int, reply_r: int, stdout, stderr, out: OutputStream,
                 err: OutputStream, max_total: int):
        self.request_w, self.reply_r = request_w, reply_r
        self._files = (stdout, stderr)
        self.reader = protocol.FrameReader(max_total=max_total)
        self.sel = selectors.DefaultSelector()
        for fd, what in ((stdout.fileno(), out), (stderr.fileno(), err), (reply_r, None)):
            os.set_blocking(fd, False)
            self.sel.register(fd, selectors.EVENT_READ, what)

    def send(self, header: dict, blobs: list[bytes] = ()) -> None:
        """Write one request (blocking). Raises ``OSError`` when the child has gone."""
        protocol.write_message(self.request_w, header, blobs)

    def message(self) -> tuple[dict, list[bytes]] | None:
        """The next whole reply, if one has arrived (``ProtocolError`` if malformed)."""
        return self.reader.message()

    def drain(self, timeout: float) -> bool:
        """Read whatever is ready within ``timeout`` s; False once the reply pipe closed.

        Raises:
            protocol.ProtocolError: the replies broke the framing or the size caps.
        """
        alive = True
        for key, _ in self.sel.select(timeout=min(timeout, 1.0)):
            try:
                chunk = os.read(key.fd, 1 << 20)
            except BlockingIOError:
                continue
            if key.data is not None:
                key.data.add(chunk)
            elif chunk:
                self.reader.feed(chunk)
            else:
                alive = False
            if not chunk:
                self.sel.unregister(key.fd)
        return alive

    def close(self) -> None:
        """Close every end this side still holds (each once: -1 marks a closed one)."""
        for fd in (self.request_w, self.reply_r):
            if fd >= 0:
                os.close(fd)
        self.request_w = self.reply_r = -1
        for fh in self._files:
            try:
                fh.close()
            except Exception:  # noqa: BLE001 - closing is best effort
                pass
        self.sel.close()
