/**
 * `onecard-terminal purchase --amount FEN`: one transit purse purchase through the PSAM, recorded
 * in a journal file (`--journal FILE`, default ./purchases.journal) so that an interrupted
 * purchase is settled on the next run with the same card.
 */
import { openFileJournal, purchase } from '../services/index.ts';
import { EXIT, type CliCommand } from './io.ts';
import { COMMON_OPTIONS_HELP, parseCardArgs, reportFailure, withCliCard } from './card-cli.ts';

export const PURCHASE_HELP = `Usage: onecard-terminal purchase --amount FEN --reader serial:PATH|hid:PATH --psam-slot N [--journal FILE] [--json]

Debit FEN fen (1 yuan = 100 fen) from the transit purse, with MAC1/MAC2 through the PSAM and a TAC
in the journal. If the journal holds an interrupted purchase of this card, that one is settled
instead (GET TRANSACTION PROVE) and no new debit is made.

Options:
  --amount FEN     amount in fen, 1..4294967295
  --journal FILE   purchase journal (default ./purchases.journal)
  --json           print the result as JSON

${COMMON_OPTIONS_HELP}`;

export const purchaseCommand: CliCommand = {
  summary: 'transit purse purchase through the PSAM (--amount FEN)',
  async run(argv, io) {
    const p = parseCardArgs(argv, { '--amount': true, '--journal': true, '--json': false });
    if (typeof p === 'string') {
      io.stderr(`onecard-terminal purchase: ${p}\n\n${PURCHASE_HELP}`);
      return EXIT.usage;
    }
    if (p.help || p.card === undefined) {
      io.stdout(PURCHASE_HELP);
      return EXIT.ok;
    }
    const amount = p.values['--amount'];
    if (typeof amount !== 'string' || !/^[1-9]\d{0,9}$/.test(amount) || Number(amount) > 0xffffffff) {
      io.stderr('onecard-terminal purchase: --amount must be 1..4294967295 fen\n');
      return EXIT.usage;
    }
    try {
      const journalPath = p.values['--journal'];
      const journal = await openFileJournal(typeof journalPath === 'string' ? journalPath : 'purchases.journal');
      const r = await withCliCard(p.card, io, ({ card, psam, logger }) => purchase({ card, psam, journal, amount: Number(amount), logger }));
      if (p.values['--json'] === true) io.stdout(`${JSON.stringify(r)}\n`);
      else if (r.kind === 'completed') io.stdout(`debited ${r.record.amount} fen, balance ${r.balanceAfter} fen, TAC ${r.record.tac ?? '-'}\n`);
      else io.stdout(`an interrupted purchase was settled instead (${r.recovery.kind}); no new debit\n`);
      return EXIT.ok;
    } catch (e) {
      return reportFailure(io, 'purchase', e);
    }
  },
};
