/**
 * The OneCard update package format as the terminal updater reads it: the one definition lives in
 * `@onecard/protocol/update` (docs/updates.md is the normative description), the same the
 * server's package tools write with; this module is its edge, rethrowing the `PROTO_ERR_UPDATE_*`
 * codes as `TERM_ERR_UPDATE_*` with the same message and details.
 */
import { updatePackageEdge, type TarReader as FormatTarReader, type PackageChecker as FormatPackageChecker } from '@onecard/protocol/update';
import { TerminalError } from '../errors.ts';

export {
  PACKAGE_FORMAT, SIGNATURE_FORMAT, MANIFEST_ENTRY, FILES_PREFIX, DEFAULT_PACKAGE_LIMITS, TAR_END,
  unsafePathReason, canonicalJson, encodeManifest, sha256Hex, signedStatement, keyIdOf, tarPadding, maxInflatedBytes,
  verifyWithPublicKey,
} from '@onecard/protocol/update';
export type {
  PackageLimits, ManifestFile, PackageManifest, SignatureAlg, PackageSignature, TarEvent, PackageCheckHooks,
} from '@onecard/protocol/update';

const edge = updatePackageEdge({
  PROTO_ERR_UPDATE_PACKAGE: 'TERM_ERR_UPDATE_PACKAGE',
  PROTO_ERR_UPDATE_HASH: 'TERM_ERR_UPDATE_HASH',
  PROTO_ERR_UPDATE_SIGNATURE: 'TERM_ERR_UPDATE_SIGNATURE',
}, (code, detail, details, cause) => new TerminalError(code, detail, details, { cause }));

/** The terminal's error for a package-format error; any other value unchanged. */
export const toTerminalError = edge.mapError;
/** @throws TerminalError `TERM_ERR_UPDATE_PACKAGE` (details.field names what failed) */
export const validateManifest = edge.validateManifest;
/** @throws TerminalError `TERM_ERR_UPDATE_SIGNATURE` */
export const parseSignature = edge.parseSignature;
/** @throws TerminalError `TERM_ERR_UPDATE_PACKAGE` when the path or a number does not fit */
export const tarHeader = edge.tarHeader;
/** The format's TarReader throwing `TERM_ERR_UPDATE_PACKAGE`. */
export const TarReader = edge.TarReader;
export type TarReader = FormatTarReader;
/** The format's PackageChecker throwing `TERM_ERR_UPDATE_PACKAGE` and `TERM_ERR_UPDATE_HASH`. */
export const PackageChecker = edge.PackageChecker;
export type PackageChecker = FormatPackageChecker;
/** The format's feedInflated throwing the terminal's codes. */
export const feedInflated = edge.feedInflated;
