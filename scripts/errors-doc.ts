/**
 * Writes `docs/errors.md` from the four error registries, so the documented codes are always the
 * thrown ones. Run with `npm run docs:errors`. With `--check` it writes nothing and exits 1 when the
 * file on disk differs from what the registries give; `npm test` runs that check.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { renderErrorsDoc } from './errors-doc-render.ts';

const path = new URL('../docs/errors.md', import.meta.url);
const rendered = await renderErrorsDoc();
if (process.argv.includes('--check')) {
  if (readFileSync(path, 'utf8') !== rendered) {
    console.error('docs/errors.md is out of date with the error registries: run `npm run docs:errors` and commit it');
    process.exit(1);
  }
  console.log('docs/errors.md matches the error registries');
} else {
  writeFileSync(path, rendered);
  console.log(`wrote ${path.pathname}`);
}
