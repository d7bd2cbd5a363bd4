"""A stand-in for a node that does no mixing work, for the MTA floor of
node/ci/throughput.sh (FLOOR=1): it takes carriers over LMTP on the
node's socket exactly as the daemon does, and hands each over SMTP to the
local MTA for the next node, unchanged, on the same legs the daemon uses.
Its own CPU is measured apart, so what the MTA spends per carrier with it
is the MTA's floor on this machine: no node software could go below it.

    lmtp_relay.py SOCKET NEXT_RCPT SUBMIT_PORT COUNT_FILE

NEXT_RCPT "-" consumes each carrier (the exit). Each carrier is answered
250 only after the MTA took it (or, at the exit, after it was counted),
like the daemon answers only after its commit. COUNT_FILE gets one line
per carrier taken.
"""

import os
import smtplib
import socketserver
import sys
import threading

SOCKET, NEXT, PORT, COUNT = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
FROM = "mix@relay.test"
count_lock = threading.Lock()


def read_data(rfile):
    """The message after DATA, dot-unstuffed, up to the lone dot."""
    lines = []
    while True:
        line = rfile.readline()
        if not line:
            raise ConnectionError("client closed during DATA")
        if line in (b".\r\n", b".\n"):
            return b"".join(lines)
        if line.startswith(b"."):
            line = line[1:]
        lines.append(line)


class Session(socketserver.StreamRequestHandler):
    def reply(self, text):
        self.wfile.write(text.encode() + b"\r\n")
        self.wfile.flush()

    def handle(self):
        smtp = None
        rcpts = 0
        self.reply("220 relay LMTP")
        try:
            while True:
                line = self.rfile.readline()
                if not line:
                    return
                verb = line[:4].upper()
                if verb == b"LHLO":
                    self.reply("250-relay\r\n250-PIPELINING\r\n250 8BITMIME")
                elif verb == b"MAIL":
                    rcpts = 0
                    self.reply("250 2.1.0 ok")
                elif verb == b"RCPT":
                    rcpts += 1
                    self.reply("250 2.1.5 ok")
                elif verb == b"DATA":
                    self.reply("354 go ahead")
                    data = read_data(self.rfile)
                    if NEXT != "-":
                        if smtp is None:
                            smtp = smtplib.SMTP("127.0.0.1", PORT)
                            smtp.ehlo("relay.test")
                        smtp.sendmail(FROM, [NEXT], data)
                    with count_lock, open(COUNT, "a") as f:
                        f.write("1\n")
                    for _ in range(rcpts):
                        self.reply("250 2.0.0 taken")
                elif verb == b"RSET":
                    rcpts = 0
                    self.reply("250 2.0.0 ok")
                elif verb == b"QUIT":
                    self.reply("221 2.0.0 bye")
                    return
                else:
                    self.reply("250 2.0.0 ok")
        finally:
            if smtp is not None:
                try:
                    smtp.quit()
                except smtplib.SMTPException:
                    pass


class Server(socketserver.ThreadingUnixStreamServer):
    daemon_threads = True


if os.path.exists(SOCKET):
    os.unlink(SOCKET)
server = Server(SOCKET, Session)
os.chmod(SOCKET, 0o660)
server.serve_forever()
