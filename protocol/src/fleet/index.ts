/** The OneCard fleet protocol: MQTT topics, the terminal access rule, and message schemas. */
export * from './topics.ts';
export * from './messages.ts';
export * from './config-schema.ts';
export * from './config-apply.ts';
export * from './kbpk.ts';
export * from './config-secret.ts';
