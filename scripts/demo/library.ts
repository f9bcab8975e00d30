/**
 * The demo's library: a simulated library system speaking SIP2 on a loopback port
 * (`simulators/src/library`), the fleet configuration that points the library gate's group at
 * it, and the loan of the scripted day (gate check, checkout, checkin with the holder's card).
 */
import { randomBytes } from 'node:crypto';
import { EXAMPLE_TERMINAL_CONFIG, type TerminalConfigDocument } from '@onecard/protocol/fleet';
import { SimLibrary, startLibraryServer, type LibraryServer } from '@onecard/simulators';
import type { ApiAnswer } from './processes.ts';

let running: { server: LibraryServer; password: string } | undefined;

/** The library system of the demo (started once; patrons keyed by the demo cards' numbers). */
export async function demoLibrary(): Promise<{ server: LibraryServer; password: string }> {
  if (running !== undefined) return running;
  const password = randomBytes(12).toString('base64url');
  const server = await startLibraryServer({
    library: new SimLibrary({
      patrons: [
        { cardNumber: 'X00000027', name: '李四', expires: '2099-12-31' },
        { cardNumber: 'X00000019', name: '张三', expires: '2099-12-31' },
        { cardNumber: 'D2143569X', name: '阿卜杜热合曼', finesFen: 1500 },
      ],
      items: [{ barcode: '31000001', title: '红楼梦', location: '二楼文学' }, { barcode: '31000002', title: '围城', location: '二楼文学' }],
    }),
    institutionId: 'DEMO-LIB', libraryName: '市图书馆', login: { user: 'onecard', password }, charset: 'gbk',
  });
  running = { server, password };
  return running;
}

export async function stopDemoLibrary(): Promise<void> {
  const r = running;
  running = undefined;
  await r?.server.close();
}

/** The fleet configuration of the library group: the library section on top of the example document. */
export async function libraryConfig(): Promise<TerminalConfigDocument> {
  const { server, password } = await demoLibrary();
  return {
    ...EXAMPLE_TERMINAL_CONFIG,
    name: 'library gate and self-service desk',
    readers: [],
    library: {
      host: '127.0.0.1', port: server.port, institutionId: 'DEMO-LIB', user: 'onecard', password, location: '一楼自助借还',
      charset: 'gbk', errorDetection: true, timeoutMs: 2000, maxRetries: 2, gate: true, loanDesk: true,
    },
  };
}

/**
 * A loan as a holder makes it: card in, the gate asks the library system, the desk lends the book,
 * later the book is returned. Returns the lines to show, or throws with what failed.
 */
export async function libraryLoan(call: (path: string, body: unknown) => Promise<ApiAnswer>, withCard: <T>(fn: () => Promise<T>) => Promise<T>): Promise<string[]> {
  const gate = await withCard(() => call('/v1/library/gate', {}));
  if (gate.status !== 200) throw new Error(`library gate: HTTP ${gate.status} ${JSON.stringify(gate.json)}`);
  const lines = [`library system says ${gate.json['admitted'] === true ? 'ADMIT' : `REFUSE (${String(gate.json['reason'])})`} for card ${String(gate.json['cardNumber'])}`];
  const out = await withCard(() => call('/v1/library/checkout', { barcode: '31000002' }));
  if (out.status !== 200 || out.json['ok'] !== true) throw new Error(`checkout: HTTP ${out.status} ${JSON.stringify(out.json)}`);
  lines.push(`self-service desk lends 《${String(out.json['title'])}》 (barcode 31000002) over SIP2 checkout, due ${String(out.json['dueDate'])}`);
  const back = await call('/v1/library/checkin', { barcode: '31000002' });
  if (back.status !== 200 || back.json['ok'] !== true) throw new Error(`checkin: HTTP ${back.status} ${JSON.stringify(back.json)}`);
  lines.push(`the book is returned at the desk (SIP2 checkin): ${String(back.json['title'])} back on the shelf`);
  return lines;
}
