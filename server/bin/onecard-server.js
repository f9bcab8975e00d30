#!/usr/bin/env node
// Runs the OneCard fleet server from its TypeScript sources.
import { register } from 'tsx/esm/api';
register();
await import('../src/main.ts');
