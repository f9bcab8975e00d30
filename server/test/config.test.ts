import t from 'tap';
import { parseServerConfig, usage, CONFIG_DEFAULTS } from '../src/config.ts';

const noFile = (p: string): string => { throw new Error(`no ${p}`); };

t.test('defaults, file, env and flags in order of precedence', async (t) => {
  const r = parseServerConfig([], {}, noFile);
  t.same(r, { help: false, config: CONFIG_DEFAULTS });
  const files: Record<string, string> = { 'c.json': JSON.stringify({ httpPort: 9000, mqttPort: 9001, logLevel: 'warn' }) };
  const r2 = parseServerConfig(['--config', 'c.json', '--mqtt-port=0'], { ONECARD_HTTP_PORT: '9100', ONECARD_DATA_DIR: '/tmp/x' }, (p) => files[p]!);
  t.match(r2, { help: false, config: { httpPort: 9100, mqttPort: 0, logLevel: 'warn', dataDir: '/tmp/x' } });
  t.same(parseServerConfig(['--data-dir', 'd', '--help'], {}, noFile), { help: true });
});

t.test('bad input names the option', async (t) => {
  t.throws(() => parseServerConfig(['--http-port', '70000'], {}, noFile), { code: 'SRV_ERR_CONFIG', details: { option: 'httpPort' } });
  t.throws(() => parseServerConfig(['--http-port', 'abc'], {}, noFile), { code: 'SRV_ERR_CONFIG' });
  t.throws(() => parseServerConfig(['--nope', '1'], {}, noFile), { code: 'SRV_ERR_CONFIG', details: { option: '--nope' } });
  t.throws(() => parseServerConfig(['--data-dir'], {}, noFile), { code: 'SRV_ERR_CONFIG' });
  t.throws(() => parseServerConfig(['--config', 'missing.json'], {}, noFile), { code: 'SRV_ERR_CONFIG' });
  t.throws(() => parseServerConfig([], { ONECARD_CONFIG: 'c' }, () => '[1]'), { code: 'SRV_ERR_CONFIG' });
  t.throws(() => parseServerConfig([], { ONECARD_CONFIG: 'c' }, () => '{"what":1}'), { code: 'SRV_ERR_CONFIG', details: { option: 'what' } });
  t.throws(() => parseServerConfig([], { ONECARD_MQTT_PORT: '-1' }, noFile), { code: 'SRV_ERR_CONFIG' });
});

t.test('help lists every option', async (t) => {
  for (const f of ['--data-dir', '--http-port', '--mqtt-port', '--config', 'ONECARD_ADMIN_TOKEN']) t.match(usage(), f);
});
