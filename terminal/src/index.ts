/** The OneCard terminal runtime: card services, hotlist, journal and logging (readers and API in their areas). */
export * from './services/index.ts';
export * from './hotlist/index.ts';
export * from './log/index.ts';
export * from './card/channel.ts';
export * from './card/memory-channel.ts';
export * from './errors.ts';
