#!/usr/bin/env node
// onecard-terminal: loads the TypeScript CLI through tsx; all logic is in src/cli/.
import { register } from 'tsx/esm/api';

register();
await import('../src/cli/main.ts');
