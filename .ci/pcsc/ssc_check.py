#!/usr/bin/python3
"""PC/SC interop check for the OneCard simulated serial reader (pcscd + libccidtwin.so + pyscard).

Usage: ssc_check.py CARD.json [--psam PSAM.json] [--expect-protocol 0|1]

Against the first reader slot: ATR, SELECT of the SSSE by DF name, EF05 and EF06 items read by
tag (61xx / 6Cxx handled here: pcsc-lite does no APDU-level repair), values compared with the
card JSON (GBK Chinese name included), VERIFY with a wrong PIN (63Cx) then the right one (9000).
With --psam, the second slot must hold the PSAM: ATR and SELECT of the PSAM application.
Prints one JSON line per check; exits non-zero on the first failure.
"""
import json
import sys

from smartcard.System import readers
from smartcard.scard import SCARD_PROTOCOL_T0, SCARD_PROTOCOL_T1

SSSE_NAME = list(b"sx1.sh.") + [0xC9, 0xE7, 0xBB, 0xE1, 0xB1, 0xA3, 0xD5, 0xCF]
PSAM_AID = [0xD1, 0x56, 0x00, 0x00, 0x05, 0x90]


def fail(what, **kw):
    print(json.dumps({"check": what, "ok": False, **kw}, ensure_ascii=False))
    sys.exit(1)


def ok(what, **kw):
    print(json.dumps({"check": what, "ok": True, **kw}, ensure_ascii=False))


def hexs(b):
    return "".join("%02X" % x for x in b)


def bcd(digits):
    digits = digits + ("F" if len(digits) % 2 else "")
    return [int(digits[i:i + 2], 16) for i in range(0, len(digits), 2)]


def send(conn, apdu):
    """APDU with the T=0 repairs a terminal must do itself [reader-link 6.2, 6.3]."""
    data, sw1, sw2 = conn.transmit(list(apdu))
    if sw1 == 0x6C:
        data, sw1, sw2 = conn.transmit(list(apdu[:4]) + [sw2])
    out = list(data)
    rounds = 0
    while sw1 == 0x61 and rounds < 64:
        rounds += 1
        data, sw1, sw2 = conn.transmit([0x00, 0xC0, 0x00, 0x00, sw2])
        if sw1 == 0x6C:
            data, sw1, sw2 = conn.transmit([0x00, 0xC0, 0x00, 0x00, sw2])
        out += list(data)
    return out, (sw1 << 8) | sw2


def read_tag(conn, tag):
    data, sw = send(conn, [0x00, 0xB2, tag, 0x00, 0x00])
    if sw != 0x9000 or len(data) < 2 or data[0] != tag:
        fail("read record", tag="%02X" % tag, sw="%04X" % sw)
    return data[2:2 + data[1]]


def main():
    args = sys.argv[1:]
    card = json.load(open(args[0], encoding="utf-8"))
    psam = None
    expect = None
    if "--psam" in args:
        psam = json.load(open(args[args.index("--psam") + 1], encoding="utf-8"))
    if "--expect-protocol" in args:
        expect = int(args[args.index("--expect-protocol") + 1])
    rs = readers()
    if not rs:
        fail("readers")
    ok("readers", names=[str(r) for r in rs])
    conn = rs[0].createConnection()
    conn.connect(SCARD_PROTOCOL_T0 | SCARD_PROTOCOL_T1)
    atr = conn.getATR()
    proto = 1 if conn.getProtocol() == SCARD_PROTOCOL_T1 else 0
    if expect is not None and proto != expect:
        fail("protocol", want=expect, got=proto)
    ok("atr", atr=hexs(atr), protocol=proto)

    fci, sw = send(conn, [0x00, 0xA4, 0x04, 0x00, len(SSSE_NAME)] + SSSE_NAME)
    if sw != 0x9000:
        fail("select ssse", sw="%04X" % sw)
    ok("select ssse", fciLength=len(fci))

    _, sw = send(conn, [0x00, 0xA4, 0x02, 0x00, 0x02, 0xEF, 0x05])
    if sw != 0x9000:
        fail("select ef05", sw="%04X" % sw)
    number = bytes(read_tag(conn, 0x07)).rstrip(b"\0").decode("ascii")
    version = bytes(read_tag(conn, 0x03)).rstrip(b"\0").decode("ascii")
    if number != card["cardNumber"]:
        fail("ef05 card number", want=card["cardNumber"], got=number)
    if version != card["version"]:
        fail("ef05 version", want=card["version"], got=version)
    card_id = read_tag(conn, 0x01)
    ok("ef05", cardNumber=number, version=version, cardIdLength=len(card_id))

    _, sw = send(conn, [0x00, 0xA4, 0x02, 0x00, 0x02, 0xEF, 0x06])
    if sw != 0x9000:
        fail("select ef06", sw="%04X" % sw)
    ssn = bytes(read_tag(conn, 0x08)).rstrip(b"\0").decode("ascii")
    name_bytes = bytes(read_tag(conn, 0x09)).rstrip(b"\0")
    name = name_bytes.decode("gbk")
    sex = bytes(read_tag(conn, 0x0A)).rstrip(b"\0").decode("ascii")
    birth = read_tag(conn, 0x0D)
    if ssn != card["ssn"]:
        fail("ef06 ssn")
    if not card["name"].startswith(name) or len(name) == 0:
        fail("ef06 name", want=card["name"], got=name)
    if sex != card["sex"] or list(birth) != bcd(card["birthDate"]):
        fail("ef06 sex/birth")
    # values are compared, never printed: personal data stays out of CI logs
    ok("ef06", ssnMatches=True, nameMatches=True, nameLength=len(name))

    if card.get("pin"):
        good = bcd(card["pin"])
        wrong = list(good)
        wrong[-1] ^= 0x01
        _, sw = send(conn, [0x00, 0x20, 0x00, 0x00, len(wrong)] + wrong)
        if sw & 0xFFF0 != 0x63C0:
            fail("verify wrong pin", sw="%04X" % sw)
        ok("verify wrong pin", sw="%04X" % sw)
        _, sw = send(conn, [0x00, 0x20, 0x00, 0x00, len(good)] + good)
        if sw != 0x9000:
            fail("verify right pin", sw="%04X" % sw)
        ok("verify right pin", sw="9000")
    conn.disconnect()

    if psam is not None:
        if len(rs) < 2:
            fail("psam reader")
        pc = rs[1].createConnection()
        pc.connect(SCARD_PROTOCOL_T0 | SCARD_PROTOCOL_T1)
        ok("psam atr", atr=hexs(pc.getATR()))
        _, sw = send(pc, [0x00, 0xA4, 0x04, 0x00, len(PSAM_AID)] + PSAM_AID)
        if sw != 0x9000:
            fail("psam select", sw="%04X" % sw)
        ok("psam select")
        pc.disconnect()
    print(json.dumps({"check": "all", "ok": True}))


main()
