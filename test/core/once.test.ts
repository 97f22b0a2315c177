import { describe, expect, it } from 'vitest';
import { once } from '#core/once';

describe('once', () => {
  it('builds on the first call only, and not at declaration', () => {
    let builds = 0;
    const value = once(() => ({ n: ++builds }));
    expect(builds).toBe(0);
    const first = value();
    expect(value()).toBe(first);
    expect(builds).toBe(1);
  });

  it('builds again after a build that threw (nothing half-kept)', () => {
    let calls = 0;
    const value = once(() => {
      calls += 1;
      if (calls === 1) throw new Error('first build fails');
      return calls;
    });
    expect(() => value()).toThrow('first build fails');
    expect(value()).toBe(2);
    expect(value()).toBe(2);
  });
});
