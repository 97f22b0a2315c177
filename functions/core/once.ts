/**
 * A value built on first use, then kept. Cold start counts everything a bundle does at module load
 * (DESIGN.md "Budgets"): a zod schema, a table or a client that only some invocations need is
 * declared with `once` and built by the first caller instead.
 */
export function once<T>(build: () => T): () => T {
  let built = false;
  let value: T;
  return () => {
    if (!built) {
      value = build();
      built = true;
    }
    return value;
  };
}
