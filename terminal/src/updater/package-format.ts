/**
 * The OneCard update package format as the terminal updater reads it: the one definition lives in
 * `@onecard/protocol/update` (docs/updates.md is the normative description), the same the
 * server's package tools write with; this module is its edge, rethrowing the `PROTO_ERR_UPDATE_*`
 * codes as `TERM_ERR_UPDATE_*` with the same message and details; what does not throw is imported
 * from `@onecard/protocol/update` directly.
 */
import { updatePackageEdge, type TarReader as FormatTarReader, type PackageChecker as FormatPackageChecker } from '@onecard/protocol/update';
import { TerminalError } from '../errors.ts';

/**
 * The format's throwing parts under the terminal's codes: `validateManifest` and `tarHeader` throw
 * `TERM_ERR_UPDATE_PACKAGE`, `parseSignature` `TERM_ERR_UPDATE_SIGNATURE`, `checkArchiveSignature`
 * `TERM_ERR_UPDATE_HASH` and `TERM_ERR_UPDATE_SIGNATURE`, `TarReader`,
 * `PackageChecker` and `feedInflated` `TERM_ERR_UPDATE_PACKAGE` and `TERM_ERR_UPDATE_HASH`;
 * `toTerminalError` maps one error (any other value unchanged).
 */
export const { mapError: toTerminalError, validateManifest, parseSignature, checkArchiveSignature, tarHeader, TarReader, PackageChecker, feedInflated } = updatePackageEdge({
  PROTO_ERR_UPDATE_PACKAGE: 'TERM_ERR_UPDATE_PACKAGE', PROTO_ERR_UPDATE_HASH: 'TERM_ERR_UPDATE_HASH', PROTO_ERR_UPDATE_SIGNATURE: 'TERM_ERR_UPDATE_SIGNATURE',
}, (code, detail, details, cause) => new TerminalError(code, detail, details, { cause }));
export type TarReader = FormatTarReader;
export type PackageChecker = FormatPackageChecker;
