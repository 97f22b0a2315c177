/**
 * SLS PullLogs: the raw logs of one shard between two cursors, as the trail path (trail.ts) reads
 * a trail's logstore. A separate module from sls.ts so only an invocation that reads logs loads it.
 *
 * Wire format, as the official SDKs speak it (aliyun-log-php-sdk `pullLogs`/`batchGetLogs`,
 * aliyun-log-python-sdk `pull_logs`, @alicloud/gateway-sls): `GET /logstores/{logstore}/shards/
 * {shard}?type=log&cursor=…&end_cursor=…&count=…` on the project's host, LOG v1 signed (the query,
 * `type=log` included, is part of the canonical resource), `Accept: application/x-protobuf`,
 * `Accept-Encoding: deflate`. The API reference says PullLogs answers only in protobuf. The answer:
 * a `LogGroupList` (SLS "Data encoding": LogGroupList{1: LogGroup}, LogGroup{1: Log, 2: Reserved,
 * 3: Topic, 4: Source, 6: LogTag}, Log{1: Time, 2: Content, 4: TimeNs}, Content/LogTag{1: Key,
 * 2: Value}), compressed as `x-log-compresstype` says (`deflate` is a zlib stream, which the PHP SDK
 * inflates with gzuncompress), `x-log-bodyrawsize` the inflated size, `x-log-cursor` the next
 * cursor, `x-log-count` the number of log groups. lz4 is never asked for (it would need a native
 * dependency); an answer in a compression we did not ask for is a MalformedResponse.
 */
import { gunzipSync, inflateSync } from 'node:zlib';
import { type AlicloudCredentials, endpointFor } from './clients.ts';
import { send } from './http.ts';
import {
  logV1Authorization,
  SLS_LOGSTORE,
  SLS_PROJECT,
  SlsNetworkError,
  SlsServiceError,
  slsRoute,
  toServiceError,
} from './sls.ts';

// ---------------------------------------------------------------------------------------------
// LogGroupList (protobuf, proto2) decoding
// ---------------------------------------------------------------------------------------------

export interface SlsLog {
  /** Unix seconds. */
  time: number;
  /** Key/value pairs in wire order (a key may repeat). */
  contents: [string, string][];
}

export interface SlsLogGroup {
  topic?: string;
  source?: string;
  tags: [string, string][];
  logs: SlsLog[];
}

const malformed = (what: string): SlsServiceError =>
  new SlsServiceError('MalformedResponse', `PullLogs: ${what}`, 200);

/** A minimal proto2 reader: varints, length-delimited fields, and skipping of fixed32/64. */
class Reader {
  private offset: number;
  constructor(
    private readonly buf: Buffer,
    start = 0,
    private readonly end = buf.length,
  ) {
    this.offset = start;
  }

  get done(): boolean {
    return this.offset >= this.end;
  }

  varint(): number {
    let result = 0;
    let scale = 1;
    for (let i = 0; i < 10; i++) {
      if (this.offset >= this.end) throw malformed('truncated varint');
      const byte = this.buf[this.offset++] as number;
      result += (byte & 0x7f) * scale;
      if ((byte & 0x80) === 0) return result;
      scale *= 128;
    }
    throw malformed('varint too long');
  }

  /** A length-delimited field's bounds; the reader moves past it. */
  bytes(): { start: number; end: number } {
    const length = this.varint();
    const start = this.offset;
    const end = start + length;
    if (end > this.end) throw malformed('truncated field');
    this.offset = end;
    return { start, end };
  }

  string(): string {
    const { start, end } = this.bytes();
    return this.buf.toString('utf8', start, end);
  }

  sub(): Reader {
    const { start, end } = this.bytes();
    return new Reader(this.buf, start, end);
  }

  skip(wireType: number): void {
    if (wireType === 0) this.varint();
    else if (wireType === 2) this.bytes();
    else if (wireType === 1 || wireType === 5) {
      this.offset += wireType === 1 ? 8 : 4;
      if (this.offset > this.end) throw malformed('truncated fixed field');
    } else throw malformed(`unsupported wire type ${wireType}`);
  }

  /** Next field tag as [field number, wire type]. */
  tag(): [number, number] {
    const key = this.varint();
    return [Math.floor(key / 8), key % 8];
  }
}

function pair(r: Reader): [string, string] {
  let key = '';
  let value = '';
  while (!r.done) {
    const [field, wire] = r.tag();
    if (field === 1 && wire === 2) key = r.string();
    else if (field === 2 && wire === 2) value = r.string();
    else r.skip(wire);
  }
  return [key, value];
}

function log(r: Reader): SlsLog {
  const entry: SlsLog = { time: 0, contents: [] };
  while (!r.done) {
    const [field, wire] = r.tag();
    if (field === 1 && wire === 0) entry.time = r.varint();
    else if (field === 2 && wire === 2) entry.contents.push(pair(r.sub()));
    else r.skip(wire);
  }
  return entry;
}

function logGroup(r: Reader): SlsLogGroup {
  const group: SlsLogGroup = { tags: [], logs: [] };
  while (!r.done) {
    const [field, wire] = r.tag();
    if (field === 1 && wire === 2) group.logs.push(log(r.sub()));
    else if (field === 3 && wire === 2) group.topic = r.string();
    else if (field === 4 && wire === 2) group.source = r.string();
    else if (field === 6 && wire === 2) group.tags.push(pair(r.sub()));
    else r.skip(wire);
  }
  return group;
}

/** Decodes a LogGroupList. Throws SlsServiceError('MalformedResponse') on a broken message. */
export function decodeLogGroupList(buf: Buffer): SlsLogGroup[] {
  const r = new Reader(buf);
  const groups: SlsLogGroup[] = [];
  while (!r.done) {
    const [field, wire] = r.tag();
    if (field === 1 && wire === 2) groups.push(logGroup(r.sub()));
    else r.skip(wire);
  }
  return groups;
}

// ---------------------------------------------------------------------------------------------
// The PullLogs call
// ---------------------------------------------------------------------------------------------

export interface PullLogsPage {
  logGroups: SlsLogGroup[];
  /** Where the next read starts (`x-log-cursor`). */
  nextCursor: string;
  /** Log groups in this answer (`x-log-count`). */
  count: number;
  requestId?: string;
}

export interface PullLogsRequest {
  cursor: string;
  endCursor: string;
  /** Log groups per answer, 1..1000. */
  count: number;
}

export interface SlsLogReader {
  pullLogs(project: string, logstore: string, shard: number, request: PullLogsRequest): Promise<PullLogsPage>;
}

export interface SlsLogReaderOptions {
  /** Region of the project; the host is the region's official SLS host unless overridden. */
  region: string;
  credentials: () => AlicloudCredentials;
  env?: Record<string, string | undefined>;
  /** Per-request timeout. Default 10 000 ms. */
  timeoutMs?: number;
  /** Largest inflated answer accepted. Default 16 MiB. */
  maxBodyBytes?: number;
  now?: () => Date;
}

/** Cursors are base64 text (SLS: `MTUyOTQ4MDIwOTY1NTk3ODQ2Mw==`). */
export const SLS_CURSOR = /^[A-Za-z0-9+/=_-]{1,128}$/;

export function createSlsLogReader(options: SlsLogReaderOptions): SlsLogReader {
  const env = options.env ?? process.env;
  // The endpoint comes from the override variable or the region's official host, never from an event.
  const endpoint = endpointFor('SLS', options.region, env);
  const timeoutMs = options.timeoutMs ?? 10_000;
  const maxBodyBytes = options.maxBodyBytes ?? 16 * 1024 * 1024;
  const now = options.now ?? (() => new Date());

  return {
    async pullLogs(project, logstore, shard, request) {
      if (!SLS_PROJECT.test(project) || !SLS_LOGSTORE.test(logstore))
        throw new SlsServiceError('InvalidParameter', `invalid project/logstore ${project}/${logstore}`, 400);
      if (!Number.isInteger(shard) || shard < 0 || shard > 100_000)
        throw new SlsServiceError('InvalidParameter', `invalid shard ${shard}`, 400);
      if (!SLS_CURSOR.test(request.cursor) || !SLS_CURSOR.test(request.endCursor))
        throw new SlsServiceError('InvalidParameter', 'invalid cursor', 400);
      const credentials = options.credentials();
      const query = {
        type: 'log',
        cursor: request.cursor,
        end_cursor: request.endCursor,
        count: String(Math.min(Math.max(request.count, 1), 1000)),
      };
      const path = `/logstores/${logstore}/shards/${shard}`;
      const headers: Record<string, string> = {
        accept: 'application/x-protobuf',
        'accept-encoding': 'deflate',
        'user-agent': 'atrest (+sls)',
        'x-log-apiversion': '0.6.0',
        'x-log-bodyrawsize': '0',
        'x-log-signaturemethod': 'hmac-sha256',
        date: now().toUTCString(),
      };
      if (credentials.securityToken) headers['x-acs-security-token'] = credentials.securityToken;
      headers.authorization = logV1Authorization(
        { method: 'GET', path, query, headers },
        credentials.accessKeyId,
        credentials.accessKeySecret,
      );
      const route = slsRoute(endpoint, project);
      headers.host = route.host;
      const response = await send({
        protocol: endpoint.protocol,
        address: route.connect,
        method: 'GET',
        path: `${path}?${new URLSearchParams(query).toString()}`,
        headers,
        timeoutMs,
        servername: route.host.replace(/:\d+$/, ''),
        networkError: (code, message, cause) => new SlsNetworkError(code, `SLS ${message}`, { cause }),
      });
      const header = (name: string): string | undefined => {
        const value = response.headers[name];
        return typeof value === 'string' ? value : undefined;
      };
      const requestId = header('x-log-requestid');
      if (response.status >= 400) throw toServiceError('PullLogs', response.status, response.body, requestId);
      const body = inflate(response.body, header('x-log-compresstype'), maxBodyBytes);
      const rawSize = header('x-log-bodyrawsize');
      if (rawSize !== undefined && Number(rawSize) !== body.length)
        throw malformed(`inflated ${body.length} bytes, x-log-bodyrawsize says ${rawSize}`);
      const nextCursor = header('x-log-cursor');
      if (nextCursor === undefined || !SLS_CURSOR.test(nextCursor)) throw malformed('no x-log-cursor');
      const logGroups = decodeLogGroupList(body);
      return {
        logGroups,
        nextCursor,
        count: Number(header('x-log-count') ?? logGroups.length),
        ...(requestId !== undefined ? { requestId } : {}),
      };
    },
  };
}

function inflate(body: Buffer, compressType: string | undefined, maxBytes: number): Buffer {
  if (compressType === undefined || compressType === '') {
    if (body.length > maxBytes) throw malformed(`answer larger than ${maxBytes} bytes`);
    return body;
  }
  try {
    if (compressType === 'deflate') return inflateSync(body, { maxOutputLength: maxBytes });
    // The PHP SDK asks for `gzip` and inflates a zlib stream; accept either framing.
    if (compressType === 'gzip')
      return body[0] === 0x1f
        ? gunzipSync(body, { maxOutputLength: maxBytes })
        : inflateSync(body, { maxOutputLength: maxBytes });
  } catch (error) {
    throw new SlsServiceError(
      'MalformedResponse',
      `PullLogs: cannot inflate the ${compressType} answer (${(error as Error).message})`,
      200,
    );
  }
  throw malformed(`unsupported x-log-compresstype ${JSON.stringify(compressType.slice(0, 32))}`);
}
