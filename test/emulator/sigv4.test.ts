/**
 * The emulator's SigV4 check is as lenient as AWS JSON services: botocore and the AWS CLI sign
 * without `x-amz-content-sha256` (only S3 needs it), and real CloudWatch Logs / KMS / Lambda accept
 * that. The request here is signed by a separate, hand-written SigV4 (botocore's SigV4Auth
 * steps), not by the signer the emulator verifies with.
 */
import { createHash, createHmac } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DUMMY_CREDENTIALS, startCloudWatchLogs } from './cloudwatch-logs.ts';
import type { EmulatedService } from './harness.ts';

let service: EmulatedService;

beforeAll(async () => {
  ({ service } = await startCloudWatchLogs());
});
afterAll(() => service.stop());

const sha256 = (data: string) => createHash('sha256').update(data).digest('hex');
const hmac = (key: Buffer | string, data: string) => createHmac('sha256', key).update(data).digest();

/** botocore SigV4Auth: signs host, x-amz-date and the request's own headers; no payload-hash header. */
function botocoreStyle(url: string, target: string, body: string, secret: string, withContentHash = false) {
  const host = new URL(url).host;
  const amzDate = new Date()
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}/, '');
  const day = amzDate.slice(0, 8);
  const headers: Record<string, string> = {
    'content-type': 'application/x-amz-json-1.1',
    host,
    'x-amz-date': amzDate,
    'x-amz-target': target,
    ...(withContentHash ? { 'x-amz-content-sha256': sha256(body) } : {}),
  };
  const names = Object.keys(headers).sort();
  const canonical = [
    'POST',
    '/',
    '',
    ...names.map((n) => `${n}:${headers[n]}`),
    '',
    names.join(';'),
    sha256(body),
  ].join('\n');
  const scope = `${day}/us-east-1/logs/aws4_request`;
  const toSign = ['AWS4-HMAC-SHA256', amzDate, scope, sha256(canonical)].join('\n');
  const key = hmac(hmac(hmac(hmac(`AWS4${secret}`, day), 'us-east-1'), 'logs'), 'aws4_request');
  const signature = createHmac('sha256', key).update(toSign).digest('hex');
  return {
    ...headers,
    authorization: `AWS4-HMAC-SHA256 Credential=${DUMMY_CREDENTIALS.accessKeyId}/${scope}, SignedHeaders=${names.join(';')}, Signature=${signature}`,
  };
}

describe('SigV4 check', () => {
  const body = JSON.stringify({ limit: 1 });
  const send = (headers: Record<string, string>) =>
    fetch(service.url, { method: 'POST', headers, body }).then(async (r) => ({
      status: r.status,
      body: (await r.json()) as Record<string, unknown>,
    }));

  it.each([
    ['without x-amz-content-sha256 (botocore, the AWS CLI)', false],
    ['with a signed x-amz-content-sha256', true],
  ])('accepts a correctly signed request %s', async (_how, withHash) => {
    const answer = await send(
      botocoreStyle(
        service.url,
        'Logs_20140328.DescribeLogGroups',
        body,
        DUMMY_CREDENTIALS.secretAccessKey,
        withHash,
      ),
    );

    expect(answer).toEqual({ status: 200, body: expect.objectContaining({ logGroups: expect.any(Array) }) });
  });

  it('still refuses the same request signed with the wrong secret', async () => {
    const answer = await send(
      botocoreStyle(service.url, 'Logs_20140328.DescribeLogGroups', body, 'not-the-secret'),
    );

    expect(answer.status).toBe(400);
    expect(answer.body.__type).toMatch(/InvalidSignatureException/);
  });
});
