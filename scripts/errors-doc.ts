/**
 * Writes `docs/errors.md` from the four error registries, so the documented codes are always the
 * thrown ones. Run with `npm run docs:errors`; each package's `test/errors.test.ts` fails when the
 * file is out of date.
 */
import { writeFileSync } from 'node:fs';
import { renderErrorsDoc } from './errors-doc-render.ts';

const path = new URL('../docs/errors.md', import.meta.url);
writeFileSync(path, await renderErrorsDoc());
console.log(`wrote ${path.pathname}`);
