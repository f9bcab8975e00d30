/**
 * A simulated library system (the ACS of SIP2) on a TCP port of 127.0.0.1. It answers login
 * (93→94), SC status (99→98), patron status (23→24), patron information (63→64), checkout
 * (11→12), renew (29→30) and checkin (09→10); with checksums on, a request whose checksum is
 * wrong gets Request SC Resend (96), and Request ACS Resend (97) gets the last response again
 * [SIP2 2.00 §Error detection]. Requests other than login and status are refused until the
 * connection has logged in with the configured credentials. Faults for tests: damage the
 * checksum of the next responses, or leave the next requests unanswered.
 */
import { createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { SimulatorError } from '../errors.ts';
import { REFUSAL_TEXT, SimLibrary, yuan, type CirculationResult } from './library.ts';
import { readLine, writeLine, type LibraryCharset, type LibraryRequest } from './wire.ts';

export interface LibraryServerOptions {
  readonly library: SimLibrary;
  /** Institution id (AO). */
  readonly institutionId: string;
  readonly libraryName?: string;
  /** SIP2 login the terminals must use (CN/CO). */
  readonly login: { readonly user: string; readonly password: string };
  readonly charset?: LibraryCharset;
  /** Error detection (AY/AZ) on responses, required on requests (default true). */
  readonly checksums?: boolean;
  /** Library local time, minutes east of UTC (default 480, China). */
  readonly utcOffsetMinutes?: number;
  /** TCP port (0 = any free port, the default). */
  readonly port?: number;
}

export interface LibraryFaults {
  /** The next N responses go out with a wrong checksum. */
  corruptResponses: number;
  /** The next N requests are read but not answered. */
  dropRequests: number;
}

export interface LibraryServer {
  readonly port: number;
  readonly library: SimLibrary;
  readonly faults: LibraryFaults;
  /** Every request line received, by message code, in order (including resend requests). */
  readonly received: string[];
  /** Lines refused, by why (checksum → 96 sent; format/charset → ignored). */
  readonly refused: { checksum: number; format: number; charset: number };
  /** Connections accepted so far. */
  readonly connections: number;
  /** Drops every open connection (the terminal must reconnect). */
  dropConnections(): void;
  close(): Promise<void>;
}

const MAX_LINE = 4096;

function sipDate(ms: number, offsetMinutes: number): string {
  const iso = new Date(ms + offsetMinutes * 60_000).toISOString();
  return `${iso.slice(0, 4)}${iso.slice(5, 7)}${iso.slice(8, 10)}    ${iso.slice(11, 13)}${iso.slice(14, 16)}${iso.slice(17, 19)}`;
}

const flags = (...set: number[]): string => Array.from({ length: 14 }, (_, i) => (set.includes(i) ? 'Y' : ' ')).join('');

/** Starts the simulated library system. Rejects `SIM_ERR_LIBRARY_LISTEN`. */
export async function startLibraryServer(opts: LibraryServerOptions): Promise<LibraryServer> {
  const lib = opts.library;
  const charset = opts.charset ?? 'utf-8';
  const checksums = opts.checksums ?? true;
  const offset = opts.utcOffsetMinutes ?? 480;
  const faults: LibraryFaults = { corruptResponses: 0, dropRequests: 0 };
  const received: string[] = [];
  const refused = { checksum: 0, format: 0, charset: 0 };
  const sockets = new Set<Socket>();
  let connections = 0;

  const patronFields = (req: LibraryRequest, cardNumber: string): {
    status: string; fields: [string, string | undefined][];
  } => {
    const p = lib.patron(cardNumber);
    const refusal = lib.refusal(cardNumber, offset, false);
    const set: number[] = [];
    if (refusal === 'blocked' || refusal === 'lost' || refusal === 'expired' || refusal === 'fines') set.push(0, 1, 3);
    if (refusal === 'lost') set.push(4);
    if ((p?.finesFen ?? 0) >= lib.rules.fineLimitFen) set.push(10);
    const pw = req.fields.get('AD');
    return {
      status: flags(...set),
      fields: [
        ['AO', opts.institutionId], ['AA', cardNumber], ['AE', p?.name ?? ''],
        ['BL', p === undefined ? 'N' : 'Y'],
        ['CQ', pw === undefined || pw === '' || p === undefined ? undefined : p.password === undefined || p.password === pw ? 'Y' : 'N'],
        ['BH', 'CNY'], ['BV', yuan(p?.finesFen ?? 0)],
        ['PA', p?.expires?.replaceAll('-', '')],
        ['AF', refusal === undefined ? undefined : REFUSAL_TEXT[refusal]],
      ],
    };
  };

  const itemAnswer = (code: string, r: CirculationResult, req: LibraryRequest, renew: boolean, now: string): Uint8Array => {
    const due = r.ok ? sipDate(r.loan.dueAt, offset).slice(0, 8) + '    235959' : undefined;
    const fixed = code === '10'
      ? `${r.ok ? '1' : '0'}${r.ok ? 'Y' : 'N'}NN${now}`
      : `${r.ok ? '1' : '0'}${renew && r.ok ? 'Y' : 'N'}N${r.ok ? 'Y' : 'N'}${now}`;
    const fields: [string, string | undefined][] = [
      ['AO', opts.institutionId],
      ['AA', code === '10' ? (r.ok ? r.loan.cardNumber : undefined) : req.fields.get('AA') ?? ''],
      ['AB', req.fields.get('AB') ?? ''],
      ['AJ', r.title],
      ['AH', code === '10' ? undefined : due],
      ['AQ', code === '10' && r.ok ? lib.item(r.loan.barcode)?.location ?? '书库' : undefined],
      ['BV', r.ok && r.fineFen !== undefined ? yuan(r.fineFen) : undefined],
      ['AF', r.ok ? undefined : r.reason],
    ];
    return writeLine(code, fixed, fields, charset, checksums, req.seq);
  };

  const answer = (req: LibraryRequest, state: { loggedIn: boolean }): Uint8Array => {
    const now = sipDate(lib.now, offset);
    if (req.code === '93') {
      const ok = req.fields.get('CN') === opts.login.user && req.fields.get('CO') === opts.login.password;
      state.loggedIn = ok;
      return writeLine('94', ok ? '1' : '0', [], charset, checksums, req.seq);
    }
    if (req.code === '99') {
      return writeLine('98', `YYYYNN030003${now}2.00`, [['AO', opts.institutionId], ['AM', opts.libraryName ?? '模拟图书馆'], ['BX', 'YYYYYYYYYYYYYYYY']], charset, checksums, req.seq);
    }
    if (!state.loggedIn) {
      // Not logged in: a failed login answer, whatever was asked.
      return writeLine('94', '0', [['AF', 'login first']], charset, checksums, req.seq);
    }
    const patron = req.fields.get('AA') ?? '';
    switch (req.code) {
      case '23': {
        const { status, fields } = patronFields(req, patron);
        return writeLine('24', `${status}${req.fixed.slice(0, 3)}${now}`, fields, charset, checksums, req.seq);
      }
      case '63': {
        const { status, fields } = patronFields(req, patron);
        const loans = lib.loansOf(patron);
        const overdue = loans.filter((l) => l.dueAt < lib.now).length;
        const n4 = (v: number): string => String(Math.min(v, 9999)).padStart(4, '0');
        const fines = (lib.patron(patron)?.finesFen ?? 0) > 0 ? 1 : 0;
        return writeLine('64', `${status}${req.fixed.slice(0, 3)}${now}${n4(0)}${n4(overdue)}${n4(loans.length)}${n4(fines)}${n4(0)}${n4(0)}`,
          [...fields.slice(0, 3), ['BZ', n4(lib.rules.maxLoans)], ['CB', n4(lib.rules.maxLoans)], ...fields.slice(3), ...loans.map((l): [string, string] => ['AU', l.barcode])], charset, checksums, req.seq);
      }
      case '11': return itemAnswer('12', lib.checkout(patron, req.fields.get('AB') ?? '', offset), req, false, now);
      case '29': return itemAnswer('30', lib.renew(patron, req.fields.get('AB') ?? '', offset), req, true, now);
      case '09': return itemAnswer('10', lib.checkin(req.fields.get('AB') ?? ''), req, false, now);
      default: return writeLine('96', '', [], charset, checksums, undefined);
    }
  };

  const server: Server = createServer((socket) => {
    connections++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    const state = { loggedIn: false };
    let last: Uint8Array | undefined;
    let buf: number[] = [];
    const send = (bytes: Uint8Array): void => {
      last = bytes;
      if (faults.corruptResponses > 0) {
        faults.corruptResponses--;
        const bad = Uint8Array.from(bytes);
        const i = bad.length - 2; // last checksum digit
        bad[i] = bad[i] === 0x30 ? 0x31 : 0x30;
        socket.write(bad);
      } else socket.write(bytes);
    };
    const onLine = (line: Uint8Array): void => {
      const req = readLine(line, charset, checksums);
      if (typeof req === 'string') {
        refused[req]++;
        received.push(req === 'checksum' ? 'bad-checksum' : `bad-${req}`);
        if (req === 'checksum') socket.write(writeLine('96', '', [], charset, checksums, undefined));
        return;
      }
      received.push(req.code);
      if (req.code === '97') {
        if (last !== undefined) socket.write(last);
        return;
      }
      if (faults.dropRequests > 0) {
        faults.dropRequests--;
        return;
      }
      send(answer(req, state));
    };
    socket.on('data', (chunk: Buffer) => {
      for (const b of chunk) {
        if (b === 0x0d) {
          const line = Uint8Array.from(buf);
          buf = [];
          onLine(line);
        } else if (b === 0x0a && buf.length === 0) {
          continue;
        } else {
          buf.push(b);
          if (buf.length > MAX_LINE) { socket.destroy(); return; }
        }
      }
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e) => reject(new SimulatorError('SIM_ERR_LIBRARY_LISTEN', String((e as NodeJS.ErrnoException).code ?? e), {}, { cause: e })));
    server.listen(opts.port ?? 0, '127.0.0.1', () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    library: lib,
    faults,
    received,
    refused,
    get connections() { return connections; },
    dropConnections() { for (const s of sockets) s.destroy(); },
    close: () => new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    }),
  };
}
