/** Simulated PIN pad: sans-I/O core of the line protocol and its pseudo-terminal adapter. */
export * from './core.ts';
export * from './pty-pinpad.ts';
