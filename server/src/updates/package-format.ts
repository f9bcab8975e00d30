/**
 * The OneCard update package format as the server uses it: the one definition lives in
 * `@onecard/protocol/update` (docs/updates.md is the normative description); this module is its
 * edge, rethrowing the `PROTO_ERR_UPDATE_*` codes as `SRV_ERR_UPDATE_*` with the same message and
 * details. The terminal updater reads packages with the same definition.
 */
import * as fmt from '@onecard/protocol/update';
import { ServerError } from '../errors.ts';

export {
  PACKAGE_FORMAT, SIGNATURE_FORMAT, MANIFEST_ENTRY, FILES_PREFIX, DEFAULT_PACKAGE_LIMITS, TAR_END,
  unsafePathReason, canonicalJson, encodeManifest, sha256Hex, signedStatement, keyIdOf, tarPadding, maxInflatedBytes,
  verifyWithPublicKey,
} from '@onecard/protocol/update';
export type {
  PackageLimits, ManifestFile, PackageManifest, SignatureAlg, PackageSignature, TarEvent, PackageCheckHooks,
} from '@onecard/protocol/update';

const CODES = {
  PROTO_ERR_UPDATE_PACKAGE: 'SRV_ERR_UPDATE_PACKAGE',
  PROTO_ERR_UPDATE_HASH: 'SRV_ERR_UPDATE_HASH',
  PROTO_ERR_UPDATE_SIGNATURE: 'SRV_ERR_UPDATE_SIGNATURE',
} as const;

/** The server's error for a package-format error; any other value unchanged. */
export function toServerError(err: unknown): unknown {
  const e = fmt.updateErrorDetail(err);
  return e === undefined ? err : new ServerError(CODES[e.code], e.detail, e.details, { cause: err });
}

function mapped<A extends unknown[], R>(f: (...args: A) => R): (...args: A) => R {
  return (...args) => {
    try {
      return f(...args);
    } catch (err) {
      throw toServerError(err);
    }
  };
}

/** @throws ServerError `SRV_ERR_UPDATE_PACKAGE` (details.field names what failed) */
export const validateManifest: typeof fmt.validateManifest = mapped(fmt.validateManifest);
/** @throws ServerError `SRV_ERR_UPDATE_SIGNATURE` */
export const parseSignature: typeof fmt.parseSignature = mapped(fmt.parseSignature);
/** @throws ServerError `SRV_ERR_UPDATE_PACKAGE` when the path or a number does not fit */
export const tarHeader: typeof fmt.tarHeader = mapped(fmt.tarHeader);

/** {@link fmt.TarReader} throwing `SRV_ERR_UPDATE_PACKAGE`. */
export class TarReader extends fmt.TarReader {
  override push(chunk: Uint8Array): fmt.TarEvent[] {
    try {
      return super.push(chunk);
    } catch (err) {
      throw toServerError(err);
    }
  }

  override finish(): void {
    try {
      super.finish();
    } catch (err) {
      throw toServerError(err);
    }
  }
}

/** {@link fmt.PackageChecker} throwing `SRV_ERR_UPDATE_PACKAGE` and `SRV_ERR_UPDATE_HASH`. */
export class PackageChecker extends fmt.PackageChecker {
  override async push(chunk: Uint8Array): Promise<void> {
    try {
      await super.push(chunk);
    } catch (err) {
      throw toServerError(err);
    }
  }

  override finish(): fmt.PackageManifest {
    try {
      return super.finish();
    } catch (err) {
      throw toServerError(err);
    }
  }
}

/** {@link fmt.feedInflated} throwing the server's codes. */
export async function feedInflated(stream: AsyncIterable<Uint8Array>, checker: fmt.PackageChecker, limits: fmt.PackageLimits): Promise<void> {
  try {
    await fmt.feedInflated(stream, checker, limits);
  } catch (err) {
    throw toServerError(err);
  }
}
