/** `onecard-terminal readers`: lists serial ports and HID devices a reader or scanner may sit on. */
import { listHidDevices, listSerialPorts } from '../card/index.ts';
import { EXIT, type CliCommand } from './io.ts';
import { reportFailure } from './card-cli.ts';

export const READERS_HELP = `Usage: onecard-terminal readers [--json]

List serial ports (for serial:PATH readers and serial scanners) and HID devices (hid:PATH readers
and keyboard-wedge scanners; usage page 8C marks HID POS scanners).
`;

const hex4 = (n: number | undefined): string => (n === undefined ? '----' : n.toString(16).padStart(4, '0'));

export const readersCommand: CliCommand = {
  summary: 'list serial ports and HID devices',
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
      if (argv.includes('--json')) {
        io.stdout(`${JSON.stringify({ serial, hid })}\n`);
        return EXIT.ok;
      }
      io.stdout(`Serial ports (${serial.length}):\n`);
      for (const s of serial) io.stdout(`  serial:${s.path}  ${JSON.stringify(s)}\n`);
      io.stdout(`HID devices (${hid.length}):\n`);
      for (const h of hid) io.stdout(`  hid:${h.path}  ${hex4(h.vendorId)}:${hex4(h.productId)} usage ${hex4(h.usagePage)}/${hex4(h.usage)} ${h.manufacturer ?? ''} ${h.product ?? ''}\n`);
      return EXIT.ok;
    } catch (e) {
      return reportFailure(io, 'readers', e);
    }
  },
};
