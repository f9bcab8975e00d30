/**
 * The OneCard update package format as the server uses it: the one definition lives in
 * `@onecard/protocol/update` (docs/updates.md is the normative description); this module is its
 * edge, rethrowing the `PROTO_ERR_UPDATE_*` codes as `SRV_ERR_UPDATE_*` with the same message and
 * details; what does not throw is imported from `@onecard/protocol/update` directly. The terminal
 * updater reads packages with the same definition.
 */
import { updatePackageEdge, type TarReader as FormatTarReader, type PackageChecker as FormatPackageChecker } from '@onecard/protocol/update';
import { ServerError } from '../errors.ts';

/**
 * The format's throwing parts under the server's codes: `validateManifest` and `tarHeader` throw
 * `SRV_ERR_UPDATE_PACKAGE`, `parseSignature` `SRV_ERR_UPDATE_SIGNATURE`, `checkArchiveSignature`
 * `SRV_ERR_UPDATE_HASH` and `SRV_ERR_UPDATE_SIGNATURE`, `TarReader`,
 * `PackageChecker` and `feedInflated` `SRV_ERR_UPDATE_PACKAGE` and `SRV_ERR_UPDATE_HASH`;
 * `toServerError` maps one error (any other value unchanged).
 */
export const { mapError: toServerError, validateManifest, parseSignature, checkArchiveSignature, tarHeader, TarReader, PackageChecker, feedInflated } = updatePackageEdge({
  PROTO_ERR_UPDATE_PACKAGE: 'SRV_ERR_UPDATE_PACKAGE', PROTO_ERR_UPDATE_HASH: 'SRV_ERR_UPDATE_HASH', PROTO_ERR_UPDATE_SIGNATURE: 'SRV_ERR_UPDATE_SIGNATURE',
}, (code, detail, details, cause) => new ServerError(code, detail, details, { cause }));
export type TarReader = FormatTarReader;
export type PackageChecker = FormatPackageChecker;
