/** Semantic versions for updates: one definition, in `@onecard/protocol/update`. */
export * from '@onecard/protocol/update';
