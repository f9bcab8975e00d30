/**
 * The OneCard update package format as the terminal updater reads it: the one definition lives in
 * `@onecard/protocol/update` (docs/updates.md is the normative description), the same the
 * server's package tools write with; this module is its edge, rethrowing the `PROTO_ERR_UPDATE_*`
 * codes as `TERM_ERR_UPDATE_*` with the same message and details.
 */
import * as fmt from '@onecard/protocol/update';
import { TerminalError } from '../errors.ts';

export {
  PACKAGE_FORMAT, SIGNATURE_FORMAT, MANIFEST_ENTRY, FILES_PREFIX, DEFAULT_PACKAGE_LIMITS, TAR_END,
  unsafePathReason, canonicalJson, encodeManifest, sha256Hex, signedStatement, keyIdOf, tarPadding, maxInflatedBytes,
  verifyWithPublicKey,
} from '@onecard/protocol/update';
export type {
  PackageLimits, ManifestFile, PackageManifest, SignatureAlg, PackageSignature, TarEvent, PackageCheckHooks,
} from '@onecard/protocol/update';

const CODES = {
  PROTO_ERR_UPDATE_PACKAGE: 'TERM_ERR_UPDATE_PACKAGE',
  PROTO_ERR_UPDATE_HASH: 'TERM_ERR_UPDATE_HASH',
  PROTO_ERR_UPDATE_SIGNATURE: 'TERM_ERR_UPDATE_SIGNATURE',
} as const;

/** The server's error for a package-format error; any other value unchanged. */
export function toTerminalError(err: unknown): unknown {
  const e = fmt.updateErrorDetail(err);
  return e === undefined ? err : new TerminalError(CODES[e.code], e.detail, e.details, { cause: err });
}

function mapped<A extends unknown[], R>(f: (...args: A) => R): (...args: A) => R {
  return (...args) => {
    try {
      return f(...args);
    } catch (err) {
      throw toTerminalError(err);
    }
  };
}

/** @throws TerminalError `TERM_ERR_UPDATE_PACKAGE` (details.field names what failed) */
export const validateManifest: typeof fmt.validateManifest = mapped(fmt.validateManifest);
/** @throws TerminalError `TERM_ERR_UPDATE_SIGNATURE` */
export const parseSignature: typeof fmt.parseSignature = mapped(fmt.parseSignature);
/** @throws TerminalError `TERM_ERR_UPDATE_PACKAGE` when the path or a number does not fit */
export const tarHeader: typeof fmt.tarHeader = mapped(fmt.tarHeader);

/** {@link fmt.TarReader} throwing `TERM_ERR_UPDATE_PACKAGE`. */
export class TarReader extends fmt.TarReader {
  override push(chunk: Uint8Array): fmt.TarEvent[] {
    try {
      return super.push(chunk);
    } catch (err) {
      throw toTerminalError(err);
    }
  }

  override finish(): void {
    try {
      super.finish();
    } catch (err) {
      throw toTerminalError(err);
    }
  }
}

/** {@link fmt.PackageChecker} throwing `TERM_ERR_UPDATE_PACKAGE` and `TERM_ERR_UPDATE_HASH`. */
export class PackageChecker extends fmt.PackageChecker {
  override async push(chunk: Uint8Array): Promise<void> {
    try {
      await super.push(chunk);
    } catch (err) {
      throw toTerminalError(err);
    }
  }

  override finish(): fmt.PackageManifest {
    try {
      return super.finish();
    } catch (err) {
      throw toTerminalError(err);
    }
  }
}

/** {@link fmt.feedInflated} throwing the terminal's codes. */
export async function feedInflated(stream: AsyncIterable<Uint8Array>, checker: fmt.PackageChecker, limits: fmt.PackageLimits): Promise<void> {
  try {
    await fmt.feedInflated(stream, checker, limits);
  } catch (err) {
    throw toTerminalError(err);
  }
}
