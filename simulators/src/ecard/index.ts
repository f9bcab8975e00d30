/** Simulated e-card platform: code issuer, mock online verification service, scanners. */
export * from './issuer.ts';
export * from './service.ts';
export * from './scanner.ts';
export * from './error-codes.ts';
export * from './login-app.ts';
