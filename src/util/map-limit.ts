/**
 * Runs `fn` over `items` with at most `limit` calls in flight; results keep the
 * input order. Items may be appended while it runs (a work queue), which is how a
 * directory walk feeds itself.
 */
export async function mapLimit<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = [];
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i]!);
    }
  };
  // Workers that find the queue empty stop; a late append is picked up by those still busy.
  await Promise.all(Array.from({ length: Math.max(1, limit) }, worker));
  return results;
}
