import t from 'tap';
import { readFileSync } from 'node:fs';
import { renderErrorsDoc } from '../../scripts/errors-doc-render.ts';

t.test('docs/errors.md matches the error registries (run `npm run docs:errors` after adding a code)', async (t) => {
  const onDisk = readFileSync(new URL('../../docs/errors.md', import.meta.url), 'utf8');
  t.equal(onDisk, await renderErrorsDoc());
});
