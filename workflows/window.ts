// Bounded fan-out: run `fn` over items with at most `window` calls in flight (a sliding window, not
// batches: a finished call immediately frees its slot). Results keep the input order. Deterministic in
// workflow code: lanes pull the next index in the order their previous calls complete.
export async function inWindows<T, R>(items: readonly T[], window: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i] as T, i);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(window, items.length)) }, lane));
  return results;
}
