#!/usr/bin/python3
"""Replays an APDU script through pcscd + libccidtwin.so + pyscard (bench/card-session.ts).

Usage: pcsc-replay.py SCRIPT.json ROUNDS [--wait SECONDS]

SCRIPT.json: {"steps": [{"ch": "card"|"psam", "cmd": "00A4...", "rsp": "...", "sw": 36864}, ...]}
as recorded from one OneCard basic-information read. Data flows between steps the way the
recorded run had them: where a later command carries an earlier response's data (a card
challenge, a PSAM cryptogram), the live response of this round is put in its place (and the
8-byte authentication data a terminal folds from a 16-byte PSAM cipher result, left XOR right
[ssc-card §7.3], the same way). Each step's status word must equal the recorded one (otherwise
the round stops with exit 1, before a wrong cryptogram could lower a try counter twice). T=0 mapping as a terminal does it: case-4 loses Le,
61xx -> GET RESPONSE, 6Cxx -> resend with Le. Slot 0 user card, slot 1 PSAM (two-slot reader).
Prints one JSON line: {"rounds": N, "ms": total, "msPerRound": ...} timed from the first APDU of
round 1 to the last of round N (connections are made before).
"""
import json
import sys
import time

from smartcard.System import readers
from smartcard.scard import SCARD_PROTOCOL_T0, SCARD_PROTOCOL_T1


def unhex(s):
    return [int(s[i:i + 2], 16) for i in range(0, len(s), 2)]


def connect(reader, deadline):
    last = None
    while time.monotonic() < deadline:
        conn = reader.createConnection()
        try:
            conn.connect(SCARD_PROTOCOL_T0 | SCARD_PROTOCOL_T1)
            return conn
        except Exception as e:  # card still being powered
            last = str(e)
            time.sleep(0.1)
    raise SystemExit("connect %s: %s" % (reader, last))


class Channel:
    def __init__(self, conn):
        self.conn = conn
        self.t0 = conn.getProtocol() == SCARD_PROTOCOL_T0

    def send(self, apdu):
        if self.t0 and len(apdu) == 4:
            apdu = apdu + [0x00]
        if self.t0 and len(apdu) > 5 and len(apdu) == 6 + apdu[4]:
            apdu = apdu[:-1]
        data, sw1, sw2 = self.conn.transmit(apdu)
        if sw1 == 0x6C:
            data, sw1, sw2 = self.conn.transmit(apdu[:4] + [sw2])
        out = list(data)
        while sw1 == 0x61:
            data, sw1, sw2 = self.conn.transmit([apdu[0] & 0x03, 0xC0, 0x00, 0x00, sw2])
            out += list(data)
        return out, (sw1 << 8) | sw2


def fold(b):
    """Authentication data from a 16-byte PSAM cipher result: left XOR right half [ssc-card §7.3]."""
    return [x ^ y for x, y in zip(b[:8], b[8:16])]


def forms(old, new):
    """The recorded response and what a terminal derives from it, each with its live counterpart."""
    out = [(old, new)]
    if len(old) == 16 and len(new) == 16:
        out.append((fold(old), fold(new)))
    return out


def main():
    script = json.load(open(sys.argv[1]))["steps"]
    rounds = int(sys.argv[2])
    wait = float(sys.argv[sys.argv.index("--wait") + 1]) if "--wait" in sys.argv else 20.0
    deadline = time.monotonic() + wait
    rs = []
    while time.monotonic() < deadline:
        try:
            rs = readers()
            if len(rs) >= 2:
                break
        except Exception:
            pass
        time.sleep(0.1)
    if len(rs) < 2:
        raise SystemExit("pcscd: expected 2 reader slots, got %d" % len(rs))
    slot1 = [r for r in rs if str(r).endswith(" 01")][0]
    slot0 = [r for r in rs if str(r).endswith(" 00")][0]
    chans = {"card": Channel(connect(slot0, deadline)), "psam": Channel(connect(slot1, deadline))}
    steps = [(s["ch"], unhex(s["cmd"]), unhex(s["rsp"]), s["sw"]) for s in script]
    t0 = time.perf_counter()
    for r in range(rounds):
        live = []
        for i, (ch, cmd, rec_rsp, rec_sw) in enumerate(steps):
            apdu = list(cmd)
            for j in range(i):
                for old, new in forms(steps[j][2], live[j]):
                    if len(old) >= 4 and len(old) <= len(apdu) - 5:
                        for k in range(5, len(apdu) - len(old) + 1):
                            if apdu[k:k + len(old)] == old:
                                apdu[k:k + len(old)] = new
            data, sw = chans[ch].send(apdu)
            if sw != rec_sw:
                print(json.dumps({"ok": False, "round": r, "step": i, "want": "%04X" % rec_sw, "sw": "%04X" % sw}))
                return 1
            live.append(data)
    ms = (time.perf_counter() - t0) * 1000
    print(json.dumps({"ok": True, "rounds": rounds, "steps": len(steps), "ms": ms, "msPerRound": ms / rounds}))
    return 0


sys.exit(main())
