/** 3M SIP2 (Standard Interchange Protocol 2.00), sans-I/O: messages, codec, checksum, client state machine. */
export * from './charset.ts';
export * from './messages.ts';
export * from './codec.ts';
export * from './client.ts';
export * from './requests.ts';
