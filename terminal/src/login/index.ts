/** Card login to government portals at this terminal: the assertion, the server calls, the service (docs/login.md). */
export * from './assertion.ts';
export * from './server.ts';
export * from './service.ts';
export { LOGIN_ERRORS } from './error-codes.ts';
