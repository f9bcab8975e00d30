/**
 * Group commit: calls that arrive in the same turn of the event loop (a fleet's births after a
 * broker restart, its status reports after a push) are written in one store transaction, so the
 * durable sync is paid once per group rather than once per call. Each caller's promise settles
 * only after the commit that carries its item, so acknowledgements (PUBACK) still follow
 * durability. When a group's commit fails, its items are written one by one with `single`, so one
 * bad item fails only its own caller.
 */
export function groupCommit<T, R>(
  many: (items: readonly T[]) => Promise<readonly R[]>,
  single: (item: T) => Promise<R>,
  opts: { readonly max?: number; readonly onGroup?: (size: number) => void } = {},
): (item: T) => Promise<R> {
  const max = opts.max ?? 2000;
  let queue: { item: T; resolve: (r: R) => void; reject: (e: unknown) => void }[] = [];
  let flushing = false;
  const flush = async (): Promise<void> => {
    while (queue.length > 0) {
      const group = queue.slice(0, max);
      queue = queue.slice(group.length);
      opts.onGroup?.(group.length);
      let results: readonly R[] | undefined;
      try {
        results = await many(group.map((g) => g.item));
      } catch {
        results = undefined;
      }
      if (results !== undefined) group.forEach((g, i) => g.resolve(results[i]!));
      else for (const g of group) await single(g.item).then(g.resolve, g.reject);
    }
    flushing = false;
  };
  return (item: T) => new Promise<R>((resolve, reject) => {
    queue.push({ item, resolve, reject });
    if (!flushing) {
      flushing = true;
      setImmediate(() => { void flush(); });
    }
  });
}
