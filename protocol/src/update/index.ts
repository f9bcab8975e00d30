/** Software-update definitions shared by the server and the terminal updater. */
export * from './semver.ts';
export * from './package-format.ts';
export * from './package-edge.ts';
