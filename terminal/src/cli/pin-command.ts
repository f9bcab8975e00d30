/**
 * `onecard-terminal pin verify|change|status`: card PIN operations for technicians. PINs are read
 * from standard input (one per line: the PIN, or the old then the new PIN), never from the
 * command line where `ps` and shell history would keep them.
 */
import { changePin, pinStatus, verifyPin } from '../services/index.ts';
import { EXIT, type CliCommand } from './io.ts';
import { COMMON_OPTIONS_HELP, parseCardArgs, reportFailure, withCliCard } from './card-cli.ts';

export const PIN_HELP = `Usage: onecard-terminal pin verify|change|status --reader serial:PATH|hid:PATH

  verify   read the PIN from standard input (first line) and VERIFY it
  change   read the old PIN and the new PIN from standard input (two lines) and change it
  status   show whether a PIN is set, locked, and the tries left (uses no try)

Example: printf '%s\\n' "$PIN" | onecard-terminal pin verify --reader serial:/dev/ttyUSB0

${COMMON_OPTIONS_HELP}`;

export const pinCommand: CliCommand = {
  summary: 'verify or change the card PIN (PINs from stdin), or show its status',
  async run(argv, io) {
    const p = parseCardArgs(argv, {});
    if (typeof p === 'string') {
      io.stderr(`onecard-terminal pin: ${p}\n\n${PIN_HELP}`);
      return EXIT.usage;
    }
    if (p.help || p.card === undefined) {
      io.stdout(PIN_HELP);
      return EXIT.ok;
    }
    const [action, ...more] = p.positional;
    if (action === undefined || !['verify', 'change', 'status'].includes(action) || more.length > 0) {
      io.stderr(`onecard-terminal pin: expected verify, change or status\n\n${PIN_HELP}`);
      return EXIT.usage;
    }
    let pins: string[] = [];
    if (action !== 'status') {
      pins = (await io.readStdin()).split(/\r?\n/).map((l) => l.trim()).filter((l) => l.length > 0);
      const need = action === 'verify' ? 1 : 2;
      if (pins.length < need) {
        io.stderr(`onecard-terminal pin ${action}: expected ${need} PIN line(s) on standard input\n`);
        return EXIT.usage;
      }
    }
    try {
      const out = await withCliCard(p.card, io, async ({ card, logger }) => {
        if (action === 'verify') {
          await verifyPin({ card, pin: pins[0]!, logger });
          return 'PIN verified\n';
        }
        if (action === 'change') {
          await changePin({ card, oldPin: pins[0]!, newPin: pins[1]!, logger });
          return 'PIN changed\n';
        }
        const s = await pinStatus({ card, logger });
        return `${JSON.stringify(s)}\n`;
      });
      io.stdout(out);
      return EXIT.ok;
    } catch (e) {
      return reportFailure(io, `pin ${action}`, e);
    }
  },
};
