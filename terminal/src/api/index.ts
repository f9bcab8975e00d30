/** The terminal's local HTTP + WebSocket API for kiosk front-ends and HIS. */
export * from './app.ts';
export * from './card-access.ts';
export * from './http-errors.ts';
export * from './sessions.ts';
export * from './launch.ts';
export * from './token-policy.ts';
export * from './screens.ts';
export { fleetStaffChecker, STAFF_ROUTES, type CheckStaff, type StaffMember } from './staff.ts';
export { HolderBindings, HOLDER_BINDING_MS } from './holder.ts';
