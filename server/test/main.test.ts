import t from 'tap';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

const bin = new URL('../bin/onecard-server.js', import.meta.url).pathname;

t.test('onecard-server starts on free ports, prints the token once, stops on SIGTERM', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'onecard-srv-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const run = async (): Promise<{ lines: Record<string, unknown>[]; code: number | null }> => {
    const child = spawn(process.execPath, [bin, '--data-dir', dir, '--http-port', '0', '--mqtt-port', '0', '--log-level', 'warn'], { stdio: ['ignore', 'pipe', 'pipe'] });
    const lines: Record<string, unknown>[] = [];
    const rl = createInterface({ input: child.stdout });
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    for await (const line of rl) {
      const obj = JSON.parse(line) as Record<string, unknown>;
      lines.push(obj);
      if (obj.event === 'ready') {
        const res = await fetch(`${String(obj.http)}/health`);
        t.equal(res.status, 200);
        child.kill('SIGTERM');
      }
    }
    const code = await new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
    clearTimeout(timer);
    return { lines, code };
  };
  const first = await run();
  t.equal(first.code, 0, 'clean exit');
  t.match(first.lines[0], { event: 'admin-token', token: /^oca_/ });
  t.match(first.lines[1], { event: 'ready', http: /^http:\/\/127\.0\.0\.1:\d+$/ });
  t.equal(statSync(join(dir, 'server-key.json')).mode & 0o777, 0o600, 'server key file is private');
  const second = await run();
  t.equal(second.lines.filter((l) => l.event === 'admin-token').length, 0, 'token printed only on the first start');
});
