import { beforeAll, describe, expect, it } from 'vitest';
import { runDemo } from '../../bin/demo.ts';
import { FUNCTION_IDS } from '../../functions/manifests.ts';

describe('npm start (the offline demo)', () => {
  let code: number;
  let text: string;
  beforeAll(async () => {
    const lines: string[] = [];
    code = await runDemo((line) => lines.push(line));
    text = lines.join('\n');
  });

  it('remediates every function end to end and verifies every resource', () => {
    expect(code).toBe(0);
    expect(text).toMatch(/All \d+ resources are encrypted with the configured key\./);
    // One console creation, and one record that arrived through the trail path (CONTRACT section 6).
    expect(text).toMatch(/^alicloud\.cluster-kms +\S+ \(console\) .* applied$/m);
    expect(text).toMatch(/^alicloud\.logstore-encryption +\S+ \(trail\) .* applied$/m);
    // The key stays: one tamper, restored; the event of atrest's own write ends without a write.
    expect(text).toMatch(
      /^aws\.log-group-kms +\/app\/orders\/api \(key removed\) +none +AssociateKmsKey +key\/1234abcd… +applied$/m,
    );
    expect(text).toMatch(
      /^aws\.log-group-kms +\/app\/orders\/api \(atrest's own write\) .* — .* ignored( \[\d+\])?$/m,
    );
    expect(text).toContain('The key stays: DisassociateKmsKey was undone');
    for (const outcome of ['duplicate', 'compliant', 'ignored', 'rejected', 'deferred'])
      expect(text).toMatch(new RegExp(` ${outcome}( \\[\\d+\\])?$`, 'm'));
  });

  // Every function of the manifests has its row: its tour's, or its test kit sample's.
  it.each(FUNCTION_IDS)('%s: has an applied row', (id) => {
    expect(text).toMatch(new RegExp(`^${id.replace('.', '\\.')} .* applied$`, 'm'));
  });
});
