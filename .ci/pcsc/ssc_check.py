#!/usr/bin/python3
"""PC/SC interop check for the OneCard simulated serial reader (pcscd + libccidtwin.so + pyscard).

Usage: ssc_check.py CARD.json [--psam PSAM.json] [--expect-protocol 0|1] [--verbose] [--trace]
                    [--wait SECONDS]

Runs against a freshly started simulator (balances, ATC and try counters are compared with the
card JSON). Slot 0 holds the user card; with --psam, slot 1 holds the PSAM.

User card, every run:
  ATR (protocol, historical bytes T8..TD = region and card serial) [ssc-card §4]; SELECT SSSE by
  DF name, FCI 9F0C -> 86 algorithm [ssc-card §1.2]; every EF05 item and every EF06 item read by
  tag and compared with the JSON, the GBK name rebuilt from 09 + 4E [ssc-card §2]; on a card whose
  EF06 is protected (3.00) the EF06 read must fail (6982) until the external authentication;
  VERIFY wrong (63Cx) then right (9000) [ssc-card §11]; the transit public information and
  balance [transit-purse §2-3] and the financial stub's PAN (tag 5A) when the JSON has them.
With --psam (no host cryptography: the PSAM computes everything):
  EXTERNAL AUTHENTICATE with RKSSSE (card key 0A, PSAM key 0A usage 47, factors card ‖ city):
  a wrong cryptogram -> 63Cx (x = extAuthTries - 1), the right one -> 9000 [ssc-card §10.2];
  transit purchase: GET BALANCE, INITIALIZE FOR PURCHASE, MAC1 from the PSAM (8070), DEBIT
  (8054), MAC2 verified by the PSAM (8072) -> 9000, balance after = before - amount, TAC present,
  log record 1 = this purchase; a corrupted MAC1 -> 9302 with the balance unchanged; an amount
  above the balance -> 9401 [transit-purse §6].

T=0 mapping done here, as a terminal must (pcsc-lite does no APDU-level repair): case-4 APDUs lose
Le [7816-3 §12.2.4], 61xx -> GET RESPONSE, 6Cxx -> resend with Le = xx [7816-3 §10.3.3].

Output: one JSON summary line on success (with --verbose, one line per check; with --trace, the
APDU trace of every step). On failure: the failing step and check, then the APDU trace of that
step (PIN data masked, personal data items shown by length only), and exit status 1.
"""
import json
import sys
import time
import traceback

from smartcard.System import readers
from smartcard.scard import SCARD_PROTOCOL_T0, SCARD_PROTOCOL_T1

SSSE_NAME = list(b"sx1.sh.") + [0xC9, 0xE7, 0xBB, 0xE1, 0xB1, 0xA3, 0xD5, 0xCF]
PSAM_ENV_16 = list(b"sx2.sh.") + [0xC9, 0xE7, 0xBB, 0xE1, 0xB1, 0xA3, 0xD5, 0xCF]
PSAM_AID = [0xD1, 0x56, 0x00, 0x00, 0x05, 0x90]
TRANSIT_AID = [0xA0, 0x00, 0x00, 0x06, 0x32, 0x01, 0x01, 0x05]
RKSSSE = 0x0A
# PSAM key record for RKSSSE: usage 47 (2 dispersion levels, encryption), key id 0A [ssc-card §8.3-8.5]
PSAM_RKSSSE = (0x47, 0x0A)
# EF06 items that hold personal data: shown by length only in traces
PERSONAL_TAGS = {0x08, 0x09, 0x4E, 0x0A, 0x0B, 0x0C, 0x0D}
# INS whose command data is a secret (VERIFY, CHANGE PIN, PIN UNBLOCK/RELOAD)
SECRET_INS = {0x20, 0x5E, 0x24}


class Failure(Exception):
    def __init__(self, check, **details):
        super().__init__(check)
        self.check = check
        self.details = details


def hexs(b):
    return "".join("%02X" % x for x in b)


def unhex(s):
    return [int(s[i:i + 2], 16) for i in range(0, len(s), 2)]


def cn(digits, length=None):
    """cn item: BCD digits right-padded with F [SPEC V2 §7]."""
    if length is None:
        length = (len(digits) + 1) // 2
    return unhex(digits.ljust(2 * length, "F"))


def u32(b):
    return (b[0] << 24) | (b[1] << 16) | (b[2] << 8) | b[3]


def be32(n):
    return [(n >> 24) & 0xFF, (n >> 16) & 0xFF, (n >> 8) & 0xFF, n & 0xFF]


def historical_bytes(atr):
    """Historical bytes of an ATR [7816-3 §8.2]."""
    t0 = atr[1]
    k = t0 & 0x0F
    i = 2
    y = t0 >> 4
    while True:
        for bit in (0x1, 0x2, 0x4):
            if y & bit:
                i += 1
        if y & 0x8:
            td = atr[i]
            i += 1
            y = td >> 4
        else:
            break
    return list(atr[i:i + k])


def city_factor(region):
    """Level-2 dispersion factor, SC-IF §10.3 rule [ssc-card §7.8]."""
    if region.startswith("33"):
        return list((region[:4] + "00sx").encode("ascii"))
    return list((region + "sx").encode("ascii"))


class Channel:
    """One pyscard connection; every exchange goes to the shared trace."""

    def __init__(self, conn, label, proto, trace):
        self.conn = conn
        self.label = label
        self.proto = proto
        self.trace = trace
        self.last_tag = None

    def _raw(self, apdu):
        data, sw1, sw2 = self.conn.transmit(list(apdu))
        data = list(data)
        self.trace.append((self.label, list(apdu), data, (sw1 << 8) | sw2))
        return data, sw1, sw2

    def send(self, apdu):
        apdu = list(apdu)
        if self.proto == 0 and len(apdu) == 4:
            apdu = apdu + [0x00]  # case 1 on T=0: P3 = 00 [7816-3 §12.2.2]
        if self.proto == 0 and len(apdu) > 5 and len(apdu) == 6 + apdu[4]:
            apdu = apdu[:-1]  # case 4 on T=0: no Le in the TPDU [7816-3 §12.2.4]
        data, sw1, sw2 = self._raw(apdu)
        if sw1 == 0x6C:
            data, sw1, sw2 = self._raw(apdu[:4] + [sw2])
        out = list(data)
        rounds = 0
        while sw1 == 0x61 and rounds < 64:
            rounds += 1
            data, sw1, sw2 = self._raw([0x00, 0xC0, 0x00, 0x00, sw2])
            if sw1 == 0x6C:
                data, sw1, sw2 = self._raw([0x00, 0xC0, 0x00, 0x00, sw2])
            out += list(data)
        return out, (sw1 << 8) | sw2

    def expect(self, check, apdu, sw=0x9000, length=None):
        data, got = self.send(apdu)
        if got != sw:
            raise Failure(check, want="%04X" % sw, sw="%04X" % got)
        if length is not None and len(data) != length:
            raise Failure(check, wantLength=length, gotLength=len(data))
        return data


def trace_lines(trace):
    lines = []
    for label, apdu, data, sw in trace:
        cmd = hexs(apdu)
        if len(apdu) > 5 and apdu[1] in SECRET_INS:
            cmd = hexs(apdu[:5]) + "**" * (len(apdu) - 5)
        if apdu[1] == 0xB2 and apdu[3] & 0x07 == 0 and apdu[2] in PERSONAL_TAGS and data:
            rsp = "<%d bytes>" % len(data)
        else:
            rsp = hexs(data)
        lines.append("  %-5s > %s\n  %-5s < %s%04X" % (label, cmd, label, rsp + " " if rsp else "", sw))
    return lines


COMPARED = [0]


class Run:
    def __init__(self, verbose, show_trace):
        self.verbose = verbose
        self.show_trace = show_trace
        self.trace = []
        self.checks = 0
        self.steps = []

    def ok(self, check, **kw):
        self.checks += 1
        if self.verbose:
            print(json.dumps({"check": check, "ok": True, **kw}, ensure_ascii=False), flush=True)

    def step(self, name, fn, *args):
        self.trace.clear()
        try:
            result = fn(self, *args)
        except Failure as f:
            self._fail(name, f.check, f.details)
        except Exception as e:  # pyscard errors, malformed answers
            self._fail(name, type(e).__name__, {"error": str(e), "at": traceback.format_exc(limit=3).splitlines()[-3:]})
        self.steps.append(name)
        if self.show_trace and self.trace:
            print("step %r:" % name)
            print("\n".join(trace_lines(self.trace)), flush=True)
        return result

    def _fail(self, step, check, details):
        print(json.dumps({"step": step, "check": check, "ok": False, **details}, ensure_ascii=False), flush=True)
        print("APDU trace of step %r (%d exchanges):" % (step, len(self.trace)))
        for line in trace_lines(self.trace):
            print(line)
        sys.stdout.flush()
        sys.exit(1)


def want_equal(check, want, got, show=True):
    COMPARED[0] += 1
    if want != got:
        if show:
            raise Failure(check, want=want, got=got)
        raise Failure(check, detail="value differs from the card JSON (personal data: not printed)")


# ---------------------------------------------------------------------------------------------
# connection


def wait_readers(n, timeout):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            rs = readers()
            if len(rs) >= n:
                return rs
            last = "%d reader(s)" % len(rs)
        except Exception as e:  # pcscd not up yet
            last = str(e)
        time.sleep(0.2)
    raise Failure("readers", want=n, last=last)


def connect(reader, timeout):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        conn = reader.createConnection()
        try:
            conn.connect(SCARD_PROTOCOL_T0 | SCARD_PROTOCOL_T1)
            return conn
        except Exception as e:  # no card yet, card still being powered
            last = str(e)
            time.sleep(0.2)
    raise Failure("connect", reader=str(reader), last=last)


def open_channel(run, reader, label, expect, timeout):
    conn = connect(reader, timeout)
    proto = 1 if conn.getProtocol() == SCARD_PROTOCOL_T1 else 0
    atr = list(conn.getATR())
    if expect is not None and proto != expect:
        raise Failure("protocol", reader=label, want=expect, got=proto)
    run.ok("%s atr" % label, atr=hexs(atr), protocol=proto)
    return Channel(conn, label, proto, run.trace), atr


def open_psam(run, rs, expect, timeout):
    """The PSAM is in slot 1 of a two-slot reader: pcscd names it "... 00 01"."""
    slot1 = [r for r in rs if str(r).endswith(" 01")]
    if not slot1:
        raise Failure("psam reader", detail="no slot 1", names=[str(x) for x in rs])
    return open_channel(run, slot1[0], "psam", expect, timeout)


# ---------------------------------------------------------------------------------------------
# user card: SSSE


def read_tag(ch, tag):
    data, sw = ch.send([0x00, 0xB2, tag, 0x00, 0x00])
    if sw != 0x9000:
        raise Failure("read record", tag="%02X" % tag, sw="%04X" % sw)
    if len(data) < 2 or data[0] != tag or len(data) != 2 + data[1]:
        raise Failure("read record", tag="%02X" % tag, detail="not one %02X TLV record" % tag, length=len(data))
    return data[2:]


def an(value):
    return bytes(value).rstrip(b"\0")


def step_atr(run, ctx):
    hist = historical_bytes(ctx["atr"])
    card = ctx["card"]
    if len(hist) != 13:
        raise Failure("historical bytes", want=13, got=len(hist))
    want_equal("historical bytes T8-T9 = region", card["region"][:4], hexs(hist[7:9]))
    ctx["hist"] = hist
    run.ok("historical bytes", length=len(hist))


def step_select_ssse(run, ctx):
    ch = ctx["card_ch"]
    fci = ch.expect("select ssse", [0x00, 0xA4, 0x04, 0x00, len(SSSE_NAME)] + SSSE_NAME)
    # 6F .. 84 <name> A5 .. 9F0C .. 86 01 <alg>
    alg = None
    for i in range(len(fci) - 2):
        if fci[i] == 0x86 and fci[i + 1] == 0x01 and i >= 5 and fci[i - 3:i - 1] == [0x9F, 0x0C]:
            alg = fci[i + 2]
    card = ctx["card"]
    family = card.get("algorithm") or ("sm4" if card["version"].startswith("3") else "des")
    want_equal("fci 9F0C/86 algorithm", {"des": 0x01, "sm4": 0x03}[family], alg)
    ctx["family"] = family
    run.ok("select ssse", fciLength=len(fci), algorithm=family)


def step_ef05(run, ctx):
    ch, card = ctx["card_ch"], ctx["card"]
    ch.expect("select ef05", [0x00, 0xA4, 0x02, 0x00, 0x02, 0xEF, 0x05])
    region = card["region"]
    if "cardIdentificationCode" in card:
        want_id = card["cardIdentificationCode"].upper()
    else:
        want_id = region + "D156000005" + card["cardSerial"].upper() + card.get("cardAuthCode", "FFFFFFFF").upper()
    card_id = read_tag(ch, 0x01)
    want_equal("ef05 01 card identification code", want_id, hexs(card_id))
    want_equal("ef05 02 card type", card.get("cardType", "3"), an(read_tag(ch, 0x02)).decode("ascii"))
    want_equal("ef05 03 version", card["version"], an(read_tag(ch, 0x03)).decode("ascii"))
    init_org = card.get("initOrg", "9156000002%s%s01" % (region, region))
    want_equal("ef05 04 initialising organisation", cn(init_org, 12), read_tag(ch, 0x04))
    want_equal("ef05 05 issue date", card["issueDate"], hexs(read_tag(ch, 0x05)))
    want_equal("ef05 06 expiry date", card["expiryDate"], hexs(read_tag(ch, 0x06)))
    want_equal("ef05 07 card number", card["cardNumber"], an(read_tag(ch, 0x07)).decode("ascii"))
    # the card's region (from its ID) drives the dispersion factors, as a terminal would take it
    ctx["region"] = hexs(card_id[0:3])
    want_equal("historical bytes TA-TD = card-ID serial", hexs(card_id[8:12]), hexs(ctx["hist"][9:13]))
    run.ok("ef05", items=7, cardNumber=card["cardNumber"], version=card["version"])


def ef06_protected(card):
    return card.get("ef06Protected", card["version"].startswith("3"))


def step_ef06_locked(run, ctx):
    ch = ctx["card_ch"]
    ch.expect("select ef06", [0x00, 0xA4, 0x02, 0x00, 0x02, 0xEF, 0x06])
    _, sw = ch.send([0x00, 0xB2, 0x08, 0x00, 0x00])
    if sw != 0x6982:
        raise Failure("ef06 read before external authentication", want="6982", sw="%04X" % sw)
    run.ok("ef06 locked before external authentication", sw="6982")


def step_ef06(run, ctx):
    ch, card = ctx["card_ch"], ctx["card"]
    ch.expect("select ef06", [0x00, 0xA4, 0x02, 0x00, 0x02, 0xEF, 0x06])
    want_equal("ef06 08 ssn", card["ssn"], an(read_tag(ch, 0x08)).decode("ascii"), show=False)
    part09 = read_tag(ch, 0x09)
    if len(part09) != 30:
        raise Failure("ef06 09 length", want=30, got=len(part09))
    name_bytes = an(part09)
    in_4e = 0
    extension = card.get("nameExtension", not card["version"].startswith("1"))
    if extension:
        part4e = read_tag(ch, 0x4E)
        if len(part4e) != 20:
            raise Failure("ef06 4E length", want=20, got=len(part4e))
        in_4e = len(an(part4e))
        name_bytes += an(part4e)
    want_gbk = card["name"].encode("gbk")
    want_equal("ef06 09+4E name (GBK)", want_gbk, name_bytes, show=False)
    want_equal("ef06 name decodes", card["name"], name_bytes.decode("gbk"), show=False)
    want_equal("ef06 0A sex", card["sex"], an(read_tag(ch, 0x0A)).decode("ascii"), show=False)
    want_equal("ef06 0B nation", cn(card["nation"], 1), read_tag(ch, 0x0B), show=False)
    want_equal("ef06 0C birthplace", cn(card["birthplace"], 3), read_tag(ch, 0x0C), show=False)
    want_equal("ef06 0D birth date", cn(card["birthDate"], 4), read_tag(ch, 0x0D), show=False)
    # values are compared, never printed: personal data stays out of CI logs
    run.ok("ef06", items=7 if extension else 6, nameGbkBytes=len(want_gbk), nameBytesIn4E=in_4e)


def step_verify(run, ctx):
    ch, card = ctx["card_ch"], ctx["card"]
    good = cn(card["pin"])
    wrong = list(good)
    wrong[0] ^= 0x11  # still BCD digits, never the right PIN
    tries = card.get("pinTries", 3)
    _, sw = ch.send([0x00, 0x20, 0x00, 0x00, len(wrong)] + wrong)
    if sw != 0x63C0 | (tries - 1):
        raise Failure("verify wrong pin", want="%04X" % (0x63C0 | (tries - 1)), sw="%04X" % sw)
    run.ok("verify wrong pin", sw="%04X" % sw)
    _, sw = ch.send([0x00, 0x20, 0x00, 0x00, len(good)] + good)
    if sw != 0x9000:
        raise Failure("verify right pin", sw="%04X" % sw)
    _, sw = ch.send([0x00, 0x20, 0x00, 0x00])
    if sw != 0x63C0 | tries:
        raise Failure("verify probe after the right pin", want="%04X" % (0x63C0 | tries), sw="%04X" % sw)
    run.ok("verify right pin", sw="9000", triesAfter=tries)


# ---------------------------------------------------------------------------------------------
# external authentication through the PSAM [ssc-card §10.2]


def psam_select_env(ctx):
    """PSAM environment of the card's algorithm [ssc-card §9.2]: MF (DES) or DDF1 (16-byte)."""
    name = PSAM_ENV_16 if ctx["family"] == "sm4" else SSSE_NAME
    ctx["psam_ch"].expect("psam select environment", [0x00, 0xA4, 0x04, 0x00, len(name)] + name)


def ext_auth(ctx, corrupt):
    card_ch, psam_ch = ctx["card_ch"], ctx["psam_ch"]
    sm4 = ctx["family"] == "sm4"
    c = card_ch.expect("card get challenge", [0x00, 0x84, 0x00, 0x00, 0x08], length=8)
    o = psam_ch.expect("psam get challenge", [0x00, 0x84, 0x00, 0x00, 0x08], length=8)
    pad = [0x00] * 8 if sm4 else []
    f3 = ctx["hist"][5:13]
    f2 = city_factor(ctx["region"])
    usage, key_id = PSAM_RKSSSE
    body = f3 + f2 + c + pad
    psam_ch.expect("psam delivery session key (RKSSSE)", [0xBF, 0xDE, usage, key_id, len(body)] + body)
    x = psam_ch.expect("psam cipher data", [0x80, 0xFA, 0x00, 0x00, 8 + len(pad)] + o + pad + [0x00], length=8 + len(pad))
    a = [x[i] ^ x[8 + i] for i in range(8)] if sm4 else x
    if corrupt:
        a = [b ^ 0x01 for b in a]
    _, sw = card_ch.send([0x00, 0x82, 0x00, RKSSSE, 0x10] + a + o)
    return sw


def step_ext_auth_wrong(run, ctx):
    tries = ctx["card"].get("extAuthTries", 5)
    psam_select_env(ctx)
    sw = ext_auth(ctx, corrupt=True)
    want = 0x63C0 | (tries - 1)
    if sw != want:
        raise Failure("external authenticate, wrong cryptogram", want="%04X" % want, sw="%04X" % sw)
    run.ok("external authenticate wrong cryptogram", sw="%04X" % sw)


def step_ext_auth(run, ctx):
    psam_select_env(ctx)
    sw = ext_auth(ctx, corrupt=False)
    if sw != 0x9000:
        raise Failure("external authenticate RKSSSE", want="9000", sw="%04X" % sw)
    run.ok("external authenticate RKSSSE", sw="9000")


# ---------------------------------------------------------------------------------------------
# transit purse [transit-purse §2-§6]


def step_transit_info(run, ctx):
    ch, t = ctx["card_ch"], ctx["card"]["transit"]
    fci = ch.expect("select transit", [0x00, 0xA4, 0x04, 0x00, len(TRANSIT_AID)] + TRANSIT_AID)
    info = ch.expect("read public information 0015", [0x00, 0xB0, 0x95, 0x00, 0x1E], length=30)
    if hexs(info) not in hexs(fci):
        raise Failure("transit fci 9F0C = 0015", fci=hexs(fci))
    want_equal("0015 issuer id", t["issuerId"].upper(), hexs(info[0:8]))
    want_equal("0015 app type/version", [t.get("appType", 2), t.get("appVersion", 1)], info[8:10])
    want_equal("0015 serial", t["serial"], hexs(info[10:20]))
    want_equal("0015 start date", t["startDate"], hexs(info[20:24]))
    want_equal("0015 expiry date", t["expiryDate"], hexs(info[24:28]))
    bal = ch.expect("get balance", [0x80, 0x5C, 0x00, 0x02, 0x04], length=4)
    want_equal("balance = JSON balance", t.get("balance", 0), u32(bal))
    ctx["info"] = info
    run.ok("transit public information and balance", balance=u32(bal))


def step_financial(run, ctx):
    ch, f = ctx["card_ch"], ctx["card"]["financial"]
    aid = unhex(f.get("aid", "A000000333010101"))
    ch.expect("select financial", [0x00, 0xA4, 0x04, 0x00, len(aid)] + aid)
    ch.expect("get processing options", [0x80, 0xA8, 0x00, 0x00, 0x02, 0x83, 0x00, 0x00])
    rec = ch.expect("read record sfi 1 record 1", [0x00, 0xB2, 0x01, 0x0C, 0x00])
    pan = cn(f["pan"])
    tag = [0x5A, len(pan)] + pan
    if hexs(tag) not in hexs(rec):
        raise Failure("financial 5A = JSON pan", detail="tag 5A absent or different")
    run.ok("financial pan", panLength=len(f["pan"]))


def psam_purchase_prep(ctx):
    p = ctx["psam_ch"]
    p.expect("psam select MF", [0x00, 0xA4, 0x04, 0x00, len(SSSE_NAME)] + SSSE_NAME)
    p.expect("psam select ADF", [0x00, 0xA4, 0x04, 0x00, len(PSAM_AID)] + PSAM_AID)
    term = p.expect("psam terminal number", [0x00, 0xB0, 0x96, 0x00, 0x06], length=6)
    key_index = p.expect("psam purchase key index", [0x00, 0xB0, 0x97, 0x00, 0x01], length=1)[0]
    return term, key_index


def bcd_now():
    return unhex(time.strftime("%Y%m%d%H%M%S"))


def init_purchase(ctx, amount, term, key_index):
    ch = ctx["card_ch"]
    return ch.send([0x80, 0x50, 0x01, 0x02, 0x0B, key_index] + be32(amount) + term + [0x0F])


def mac1(ctx, init, amount, dt):
    info = ctx["info"]
    # [transit-purse §6.4] random 4 ‖ ATC 2 ‖ amount 4 ‖ type 06 ‖ date-time 7 ‖ key version ‖
    # algorithm ‖ serial (0015 offsets 12-19) ‖ issuer factor (0015 offsets 0-7)
    body = init[11:15] + init[4:6] + be32(amount) + [0x06] + dt + init[9:10] + init[10:11] + info[12:20] + info[0:8]
    return ctx["psam_ch"].expect("psam MAC1", [0x80, 0x70, 0x00, 0x00, len(body)] + body + [0x08], length=8)


def step_purchase(run, ctx):
    ch, psam = ctx["card_ch"], ctx["psam_ch"]
    amount = 150
    term, key_index = psam_purchase_prep(ctx)
    ch.expect("select transit", [0x00, 0xA4, 0x04, 0x00, len(TRANSIT_AID)] + TRANSIT_AID)
    before = u32(ch.expect("balance before", [0x80, 0x5C, 0x00, 0x02, 0x04], length=4))
    if before < amount:
        raise Failure("balance before", detail="balance below the test amount", balance=before)
    init, sw = init_purchase(ctx, amount, term, key_index)
    if sw != 0x9000 or len(init) != 15:
        raise Failure("initialize for purchase", sw="%04X" % sw, length=len(init))
    want_equal("init balance", before, u32(init[0:4]))
    atc = (init[4] << 8) | init[5]
    want_equal("init ATC = JSON atc", ctx["card"]["transit"].get("atc", 0), atc)
    dt = bcd_now()
    m1 = mac1(ctx, init, amount, dt)
    serial, mac = m1[0:4], m1[4:8]
    serial_file = psam.expect("psam transaction serial 0019", [0x00, 0xB0, 0x99, 0x00, 0x04], length=4)
    want_equal("psam 0019 = MAC1 terminal serial", hexs(serial), hexs(serial_file))
    debit = ch.expect("debit for purchase", [0x80, 0x54, 0x01, 0x00, 0x0F] + serial + dt + mac + [0x08], length=8)
    tac, mac2 = debit[0:4], debit[4:8]
    psam.expect("psam verify MAC2", [0x80, 0x72, 0x00, 0x00, 0x04] + mac2)
    after = u32(ch.expect("balance after", [0x80, 0x5C, 0x00, 0x02, 0x04], length=4))
    want_equal("balance after = before - amount", before - amount, after)
    if tac == [0, 0, 0, 0] or tac == mac2:
        raise Failure("TAC present", tac=hexs(tac))
    log = ch.expect("read log record 1", [0x00, 0xB2, 0x01, 0xC4, 0x17], length=23)
    want_equal("log record 1", hexs([init[4], init[5], 0, 0, 0] + be32(amount) + [0x06] + term + dt), hexs(log))
    ctx["balance"] = after
    ctx["purchase"] = (term, key_index)
    run.ok("purchase", amount=amount, before=before, after=after, atc=atc, tacLength=len(tac))


def step_bad_mac1(run, ctx):
    ch = ctx["card_ch"]
    term, key_index = ctx["purchase"]
    amount = 1
    init, sw = init_purchase(ctx, amount, term, key_index)
    if sw != 0x9000:
        raise Failure("initialize for purchase", sw="%04X" % sw)
    dt = bcd_now()
    m1 = mac1(ctx, init, amount, dt)
    bad = [b ^ 0xFF for b in m1[4:8]]
    _, sw = ch.send([0x80, 0x54, 0x01, 0x00, 0x0F] + m1[0:4] + dt + bad + [0x08])
    if sw != 0x9302:
        raise Failure("debit with a corrupted MAC1", want="9302", sw="%04X" % sw)
    bal = u32(ch.expect("balance", [0x80, 0x5C, 0x00, 0x02, 0x04], length=4))
    want_equal("balance unchanged after 9302", ctx["balance"], bal)
    run.ok("debit with a corrupted MAC1", sw="9302")


def step_insufficient(run, ctx):
    ch = ctx["card_ch"]
    term, key_index = ctx["purchase"]
    _, sw = init_purchase(ctx, ctx["balance"] + 1, term, key_index)
    if sw != 0x9401:
        raise Failure("initialize for purchase above the balance", want="9401", sw="%04X" % sw)
    bal = u32(ch.expect("balance", [0x80, 0x5C, 0x00, 0x02, 0x04], length=4))
    want_equal("balance unchanged after 9401", ctx["balance"], bal)
    run.ok("insufficient funds", sw="9401")


# ---------------------------------------------------------------------------------------------


def main():
    args = sys.argv[1:]
    if not args or args[0].startswith("-"):
        print(__doc__)
        return 2
    card = json.load(open(args[0], encoding="utf-8"))
    psam_file = args[args.index("--psam") + 1] if "--psam" in args else None
    expect = int(args[args.index("--expect-protocol") + 1]) if "--expect-protocol" in args else None
    wait = float(args[args.index("--wait") + 1]) if "--wait" in args else 20.0
    run = Run("--verbose" in args, "--trace" in args)
    ctx = {"card": card}

    rs = run.step("readers", lambda r: wait_readers(2 if psam_file else 1, wait))
    run.ok("readers", names=[str(r) for r in rs])
    slot0 = [r for r in rs if str(r).endswith(" 00")] or rs[:1]
    ctx["card_ch"], ctx["atr"] = run.step("card connect", open_channel, slot0[0], "card", expect, wait)
    if psam_file:
        ctx["psam_ch"], _ = run.step("psam connect", open_psam, rs, expect, wait)
        run.step("psam select", lambda r: ctx["psam_ch"].expect("psam select ADF", [0x00, 0xA4, 0x04, 0x00, len(PSAM_AID)] + PSAM_AID))

    run.step("atr", step_atr, ctx)
    run.step("select ssse", step_select_ssse, ctx)
    run.step("ef05", step_ef05, ctx)
    protected = ef06_protected(card)
    if protected:
        run.step("ef06 locked", step_ef06_locked, ctx)
    if psam_file:
        run.step("external authentication, wrong cryptogram", step_ext_auth_wrong, ctx)
        run.step("external authentication", step_ext_auth, ctx)
    if psam_file or not protected:
        run.step("ef06", step_ef06, ctx)
    if card.get("pin"):
        run.step("verify", step_verify, ctx)
    if card.get("financial"):
        run.step("financial", step_financial, ctx)
    if card.get("transit"):
        run.step("transit information", step_transit_info, ctx)
        if psam_file:
            run.step("purchase", step_purchase, ctx)
            run.step("corrupted MAC1", step_bad_mac1, ctx)
            run.step("insufficient funds", step_insufficient, ctx)

    for ch in ("card_ch", "psam_ch"):
        if ch in ctx:
            ctx[ch].conn.disconnect()
    print(json.dumps({"check": "all", "ok": True, "checks": run.checks, "compared": COMPARED[0], "steps": run.steps}, ensure_ascii=False))
    return 0


sys.exit(main())
