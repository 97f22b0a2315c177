/**
 * The SLS emulator's GetCursor and PullLogs at the wire: signed with the query in the canonical
 * resource, protobuf only, deflated on request, cursors that move and stop at the end.
 */
import { request } from 'node:http';
import { inflateSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { logV1Authorization } from '../../functions/alicloud/sls.ts';
import { EMULATOR_CREDENTIALS } from './acs3.ts';
import { emulatorCursor, encodeLogGroupList, type SlsEmulator, startSls } from './sls.ts';

describe('SLS emulator: GetCursor and PullLogs', () => {
  let sls: SlsEmulator;
  beforeAll(async () => {
    sls = await startSls();
    sls.state.appendLogs('trail-p', 'trail-ls', 0, { logs: [{ time: 1, contents: { event: '{}' } }] });
    sls.state.appendLogs('trail-p', 'trail-ls', 0, { logs: [{ time: 2, contents: { event: '{"a":1}' } }] });
  });
  afterAll(() => sls.stop());

  const get = (query: Record<string, string>, extra: Record<string, string> = {}) => {
    const path = '/logstores/trail-ls/shards/0';
    const headers: Record<string, string> = {
      'x-log-apiversion': '0.6.0',
      'x-log-bodyrawsize': '0',
      'x-log-signaturemethod': 'hmac-sha256',
      date: new Date().toUTCString(),
      ...extra,
    };
    headers.authorization = logV1Authorization(
      { method: 'GET', path, query, headers },
      EMULATOR_CREDENTIALS.accessKeyId,
      EMULATOR_CREDENTIALS.accessKeySecret,
    );
    const url = new URL(sls.url);
    headers.host = `trail-p.${url.host}`;
    return new Promise<{ status: number; headers: Record<string, unknown>; body: Buffer }>(
      (resolve, reject) => {
        const req = request(
          {
            hostname: url.hostname,
            port: Number(url.port),
            method: 'GET',
            path: `${path}?${new URLSearchParams(query).toString()}`,
            headers,
          },
          (res) => {
            const chunks: Buffer[] = [];
            res.on('data', (c: Buffer) => chunks.push(c));
            res.on('end', () =>
              resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
            );
          },
        );
        req.on('error', reject);
        req.end();
      },
    );
  };

  it('GetCursor answers the begin and end cursors', async () => {
    const begin = await get({ type: 'cursor', from: 'begin' });
    const end = await get({ type: 'cursor', from: 'end' });
    expect(JSON.parse(begin.body.toString())).toEqual({ cursor: emulatorCursor(0) });
    expect(JSON.parse(end.body.toString())).toEqual({ cursor: emulatorCursor(2) });
  });

  it('PullLogs answers a deflated LogGroupList with the next cursor and the count', async () => {
    const answer = await get(
      { type: 'log', cursor: emulatorCursor(0), end_cursor: emulatorCursor(2), count: '1' },
      { accept: 'application/x-protobuf', 'accept-encoding': 'deflate' },
    );
    expect(answer.status).toBe(200);
    expect(answer.headers['x-log-compresstype']).toBe('deflate');
    expect(answer.headers['x-log-cursor']).toBe(emulatorCursor(1));
    expect(answer.headers['x-log-count']).toBe('1');
    const raw = inflateSync(answer.body);
    expect(String(raw.length)).toBe(answer.headers['x-log-bodyrawsize']);
    expect(raw).toEqual(encodeLogGroupList([{ logs: [{ time: 1, contents: { event: '{}' } }] }]));
  });

  it('PullLogs refuses JSON: the API answers only protobuf', async () => {
    const answer = await get(
      { type: 'log', cursor: emulatorCursor(0), count: '1' },
      { accept: 'application/json' },
    );
    expect(answer.status).toBe(400);
  });

  it('the signature covers the query: a cursor changed after signing is refused', async () => {
    const answer = await get(
      { type: 'log', cursor: emulatorCursor(0), count: '1' },
      { accept: 'application/x-protobuf' },
    );
    expect(answer.status).toBe(200);
    // Same headers, other query: sign one cursor, send another.
    const path = '/logstores/trail-ls/shards/0';
    const headers: Record<string, string> = {
      accept: 'application/x-protobuf',
      'x-log-apiversion': '0.6.0',
      'x-log-bodyrawsize': '0',
      'x-log-signaturemethod': 'hmac-sha256',
      date: new Date().toUTCString(),
    };
    headers.authorization = logV1Authorization(
      { method: 'GET', path, query: { type: 'log', cursor: emulatorCursor(0), count: '1' }, headers },
      EMULATOR_CREDENTIALS.accessKeyId,
      EMULATOR_CREDENTIALS.accessKeySecret,
    );
    const url = new URL(sls.url);
    headers.host = `trail-p.${url.host}`;
    const status = await new Promise<number>((resolve, reject) => {
      const req = request(
        {
          hostname: url.hostname,
          port: Number(url.port),
          method: 'GET',
          path: `${path}?type=log&cursor=${encodeURIComponent(emulatorCursor(1))}&count=1`,
          headers,
        },
        (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        },
      );
      req.on('error', reject);
      req.end();
    });
    expect(status).toBe(401);
  });
});
