/**
 * The edge where a package that reads or writes update packages (the server's package tools, the
 * terminal updater) takes the throwing parts of the package format under its own error codes:
 * every `PROTO_ERR_UPDATE_*` error that {@link validateManifest}, {@link parseSignature},
 * {@link checkArchiveSignature}, {@link tarHeader}, {@link TarReader}, {@link PackageChecker} and
 * {@link feedInflated} throw is
 * rethrown as the caller's error with the same detail and details and the original as `cause`;
 * any other value (a hook's own error, a stream error) passes through unchanged.
 */
import * as fmt from './package-format.ts';
import type { PackageLimits, PackageManifest, TarEvent, UpdateErrorCode } from './package-format.ts';

/** Builds the caller's error for one mapped update error. */
export type UpdateErrorFactory<C extends string> = (
  code: C,
  detail: string | undefined,
  details: Record<string, string | number | boolean | undefined>,
  cause: unknown,
) => Error;

/** The throwing parts of the package format, throwing the caller's errors. */
export interface UpdatePackageEdge {
  /** The caller's error for an update-format error; any other value unchanged. */
  readonly mapError: (err: unknown) => unknown;
  readonly validateManifest: typeof fmt.validateManifest;
  readonly parseSignature: typeof fmt.parseSignature;
  readonly checkArchiveSignature: typeof fmt.checkArchiveSignature;
  readonly tarHeader: typeof fmt.tarHeader;
  readonly TarReader: typeof fmt.TarReader;
  readonly PackageChecker: typeof fmt.PackageChecker;
  readonly feedInflated: typeof fmt.feedInflated;
}

/**
 * The package format with its errors mapped through `codes` and `make`.
 * @param codes the caller's code for each `PROTO_ERR_UPDATE_*` code
 * @param make builds the caller's error (message from its own template, same detail and details)
 */
export function updatePackageEdge<C extends string>(codes: Readonly<Record<UpdateErrorCode, C>>, make: UpdateErrorFactory<C>): UpdatePackageEdge {
  const mapError = (err: unknown): unknown => {
    const e = fmt.updateErrorDetail(err);
    return e === undefined ? err : make(codes[e.code], e.detail, e.details, err);
  };

  function mapped<A extends unknown[], R>(f: (...args: A) => R): (...args: A) => R {
    return (...args) => {
      try {
        return f(...args);
      } catch (err) {
        throw mapError(err);
      }
    };
  }

  class TarReader extends fmt.TarReader {
    override push(chunk: Uint8Array): TarEvent[] {
      try {
        return super.push(chunk);
      } catch (err) {
        throw mapError(err);
      }
    }

    override finish(): void {
      try {
        super.finish();
      } catch (err) {
        throw mapError(err);
      }
    }
  }

  class PackageChecker extends fmt.PackageChecker {
    override async push(chunk: Uint8Array): Promise<void> {
      try {
        await super.push(chunk);
      } catch (err) {
        throw mapError(err);
      }
    }

    override finish(): PackageManifest {
      try {
        return super.finish();
      } catch (err) {
        throw mapError(err);
      }
    }
  }

  async function feedInflated(stream: AsyncIterable<Uint8Array>, checker: fmt.PackageChecker, limits: PackageLimits): Promise<void> {
    try {
      await fmt.feedInflated(stream, checker, limits);
    } catch (err) {
      throw mapError(err);
    }
  }

  return {
    mapError,
    validateManifest: mapped(fmt.validateManifest),
    parseSignature: mapped(fmt.parseSignature),
    checkArchiveSignature: mapped(fmt.checkArchiveSignature),
    tarHeader: mapped(fmt.tarHeader),
    TarReader,
    PackageChecker,
    feedInflated,
  };
}
