/**
 * The reader models a OneCard terminal drives, keyed by the name a configuration uses
 * (`readers[].model`), each mapped to its GemPC-family descriptor (reader-link.md §8.5). The fleet
 * configuration schema enumerates exactly these keys, so a document naming another model is
 * refused by the server at PUT and never reaches a terminal.
 */
import type { GemPcModel } from './gempc-twin.ts';

/** Configuration key → GemPC-family model. */
export const TERMINAL_READER_MODELS = Object.freeze({
  'gempc-twin': 'GemPCTwin',
  'gemcore-sim-pro2': 'GemCoreSIMPro2',
  sec1210: 'SEC1210',
} as const satisfies Record<string, GemPcModel>);

/** A reader model key as written in a configuration. */
export type TerminalReaderModel = keyof typeof TERMINAL_READER_MODELS;

/** The keys of {@link TERMINAL_READER_MODELS}, in table order. */
export const TERMINAL_READER_MODEL_KEYS = Object.freeze(Object.keys(TERMINAL_READER_MODELS) as TerminalReaderModel[]);
