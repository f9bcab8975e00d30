/** Error codes of the fleet area, composed into the package registry by `src/errors.ts`. */
export const FLEET_ERRORS = {
} as const satisfies Record<`PROTO_ERR_${string}`, string>;
