/**
 * Appends every item of `items` to `into`. `into.push(...items)` passes each item as a call
 * argument and throws "Maximum call stack size exceeded" beyond ~125,000 of them (a provider with
 * that many events, a write function with 838k callers).
 */
export function appendAll<T>(into: T[], items: readonly T[]): T[] {
  for (const item of items) into.push(item);
  return into;
}
