/** Simulated readers: the serial GemPC-family CCID reader (sans-I/O core + pty adapter). */
export * from './core.ts';
export * from './card-port.ts';
export * from './faults.ts';
export * from './models.ts';
export * from './serial-frames.ts';
export * from './t0-tpdu.ts';
export * from './t1-card.ts';
export * from './pty-reader.ts';
export * from './control.ts';
