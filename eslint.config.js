// OneCard's lint rules: the type-free typescript-eslint recommended set, plus the import rules that
// keep the four packages apart (no reaching into another package's files by relative path, no
// undeclared dependencies, no terminal <-> server imports, no import cycles).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import { importX } from 'eslint-plugin-import-x';
import { createTypeScriptImportResolver } from 'eslint-import-resolver-typescript';
import globals from 'globals';

export default tseslint.config(
  { ignores: ['**/node_modules/**', '**/.tap/**', '**/dist/**', 'artefacts/**', '**/*.d.ts', 'server/dashboard/vendor/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    plugins: { 'import-x': importX },
    settings: {
      'import-x/resolver-next': [createTypeScriptImportResolver({ project: './tsconfig.json' })],
      // Parse TypeScript dependencies too, so cycles through .ts files are followed.
      'import-x/parsers': { '@typescript-eslint/parser': ['.ts'] },
      'import-x/extensions': ['.ts', '.js'],
    },
    languageOptions: { globals: { ...globals.node } },
    rules: {
      'import-x/no-relative-packages': 'error',
      'import-x/no-unresolved': 'error',
      'import-x/no-cycle': ['error', { ignoreExternal: true }],
      'import-x/no-extraneous-dependencies': ['error', { includeInternal: false }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
      // A `let` assigned later but read earlier by a teardown closure is not a constant.
      'prefer-const': ['error', { ignoreReadBeforeAssign: true }],
      // A control character in a pattern is how these codecs refuse control characters in card and
      // protocol text; the rule's premise (an accidental control character) does not hold here.
      'no-control-regex': 'off',
      // Terminal and server meet only over the fleet protocol (protocol/src/fleet), never in code.
      'import-x/no-restricted-paths': ['error', { zones: [
        { target: './terminal/src', from: './server' },
        { target: './server/src', from: './terminal' },
        { target: './protocol/src', from: ['./terminal', './server', './simulators'] },
      ] }],
    },
  },
  // TypeScript checks names itself; `no-undef` only misreads type-only globals there.
  { files: ['**/*.ts'], rules: { 'no-undef': 'off' } },
  // Tests and benches read JSON answers of any shape; `any` there is the honest type.
  { files: ['**/test/**/*.ts', 'bench/**/*.ts'], rules: { '@typescript-eslint/no-explicit-any': 'off' } },
  // The static pages (dashboard, kiosk, desk) run in the browser.
  // They import each other by the URL path they are served at (`/shared/…`), not by file path.
  { files: ['server/dashboard/**/*.js', 'terminal/web/**/*.js'], languageOptions: { globals: { ...globals.browser } }, rules: { 'import-x/no-unresolved': 'off' } },
);
