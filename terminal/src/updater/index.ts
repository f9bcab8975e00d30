/** The terminal's software updater: package verification, A/B install, apply with health check and rollback. */
export * from './apply.ts';
export * from './install.ts';
export * from './download.ts';
export { verifyPackageFile, checkSignature, verifyWithPinnedKey, hashFile } from './verify.ts';
export { compareSemver, isSemver } from './semver.ts';
