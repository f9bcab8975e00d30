/** `onecard-terminal readers`: lists serial ports and HID devices a reader or scanner may sit on, and pcscd's PC/SC readers. */
import { listHidDevices, listSerialPorts } from '../card/index.ts';
import { listPcscReaders } from '../link/pcsc-client.ts';
import { TerminalError } from '../errors.ts';
import { EXIT, type CliCommand } from './io.ts';
import { reportFailure } from './card-cli.ts';

export const READERS_HELP = `Usage: onecard-terminal readers [--json]

List serial ports (for serial:PATH readers and serial scanners) and HID devices (hid:PATH readers
and keyboard-wedge scanners; usage page 8C marks HID POS scanners), and the readers pcscd offers
(for pcsc:NAME readers; pcscd's socket from PCSCLITE_CSOCK_NAME, default /run/pcscd/pcscd.comm).
Without pcscd the PC/SC part shows TERM_ERR_LINK_PCSC_UNAVAILABLE and the rest is listed.
`;

const hex4 = (n: number | undefined): string => (n === undefined ? '----' : n.toString(16).padStart(4, '0'));

export const readersCommand: CliCommand = {
  summary: 'list serial ports, HID devices and PC/SC readers',
  async run(argv, io) {
    if (argv.includes('--help') || argv.includes('-h')) {
      io.stdout(READERS_HELP);
      return EXIT.ok;
    }
    const bad = argv.find((a) => a !== '--json');
    if (bad !== undefined) {
      io.stderr(`onecard-terminal readers: unknown option '${bad}'\n\n${READERS_HELP}`);
      return EXIT.usage;
    }
    try {
      const serial = await listSerialPorts();
      const hid = await listHidDevices().catch(() => []);
      const socketPath = process.env['PCSCLITE_CSOCK_NAME'];
      const pcsc = await listPcscReaders(socketPath === undefined ? {} : { socketPath }).then(
        (readers) => ({ readers: readers.map((r) => ({ name: r.name, card: (r.state & 0x04) !== 0, unavailable: (r.state & 0x01) !== 0, atr: Buffer.from(r.atr).toString('hex').toUpperCase() })) }),
        (e: unknown) => ({ error: e instanceof TerminalError ? { code: e.code, message: e.message } : { code: 'TERM_ERR_LINK_PCSC_FAILED', message: String(e) } }),
      );
      if (argv.includes('--json')) {
        io.stdout(`${JSON.stringify({ serial, hid, pcsc })}\n`);
        return EXIT.ok;
      }
      io.stdout(`Serial ports (${serial.length}):\n`);
      for (const s of serial) io.stdout(`  serial:${s.path}  ${JSON.stringify(s)}\n`);
      io.stdout(`HID devices (${hid.length}):\n`);
      for (const h of hid) io.stdout(`  hid:${h.path}  ${hex4(h.vendorId)}:${hex4(h.productId)} usage ${hex4(h.usagePage)}/${hex4(h.usage)} ${h.manufacturer ?? ''} ${h.product ?? ''}\n`);
      if ('error' in pcsc) io.stdout(`PC/SC readers: ${pcsc.error.code}: ${pcsc.error.message}\n`);
      else {
        io.stdout(`PC/SC readers (${pcsc.readers.length}):\n`);
        for (const r of pcsc.readers) io.stdout(`  pcsc:${JSON.stringify(r.name)}  ${r.unavailable ? 'not answering' : r.card ? `card ${r.atr}` : 'no card'}\n`);
      }
      return EXIT.ok;
    } catch (e) {
      return reportFailure(io, 'readers', e);
    }
  },
};
