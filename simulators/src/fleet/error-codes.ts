/** Error codes of the simulated terminal fleet, composed into the package registry by `src/errors.ts`. */
export const FLEET_SIM_ERRORS = {
  SIM_ERR_FLEET_LIMIT: 'Simulated fleet size or duration outside the allowed bounds',
  SIM_ERR_FLEET_NOT_LOOPBACK: 'The simulated fleet only talks to a server on the loopback interface',
  SIM_ERR_FLEET_HTTP: 'Fleet server HTTP request failed',
  SIM_ERR_FLEET_ENROL: 'Simulated terminal enrolment failed',
  SIM_ERR_FLEET_CONNECT: 'Simulated terminal could not connect to the broker',
  SIM_ERR_FLEET_CONFIG: 'Configuration document could not be fetched or verified',
  SIM_ERR_FLEET_HOTLIST: 'Hotlist delta could not be fetched or was malformed',
  SIM_ERR_FLEET_TIMEOUT: 'The simulated fleet did not reach the expected state in time',
  SIM_ERR_FLEET_CLI_USAGE: 'Invalid fleet command-line usage',
} as const satisfies Record<`SIM_ERR_${string}`, string>;
