/** Error codes of the server's scale-out area (external broker, Redis, Mosquitto), composed into the package registry by `src/errors.ts`. */
export const SCALE_ERRORS = {
  SRV_ERR_BROKER_UNAVAILABLE: 'The external MQTT broker cannot be reached or refused the server',
  SRV_ERR_NO_EMBEDDED_BROKER: 'No embedded broker: the server runs against an external broker',
  SRV_ERR_MOSQUITTO_SYNC: 'Cannot write the Mosquitto password or ACL file',
} as const satisfies Record<`SRV_ERR_${string}`, string>;
