/**
 * Which floor each function's cold start is measured against comes from its test kit driver
 * (`floor`): every function has a known one, and a function without one fails loudly.
 */
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { FLOORS, floorEntry, floorOf } from '../../bench/cold-start.ts';
import { FUNCTION_IDS, type FunctionId } from '../../infra/functions.ts';

describe('bench: cold-start floors', () => {
  it.each(FUNCTION_IDS)('%s is measured against a floor of bench/floors/', (id) => {
    const floor = floorOf(id);

    expect(Object.keys(FLOORS)).toContain(floor);
    expect(existsSync(floorEntry(floor))).toBe(true);
  });

  it('a function whose driver names no floor is an error naming it, not a default', () => {
    expect(() => floorOf('alicloud.no-such-function' as FunctionId)).toThrow(
      /alicloud\.no-such-function: no test kit driver names its floor/,
    );
  });
});
