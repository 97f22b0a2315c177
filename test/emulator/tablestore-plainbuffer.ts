/**
 * Tablestore's PlainBuffer row format, as far as the emulator needs it: STRING and INTEGER cells,
 * cell operation types (UpdateRow), timestamps, the delete marker, and the CRC-8 checksums that
 * the SDK writes and verifies. Layout (little-endian): header 0x75 (u32), then tagged fields —
 * ROW_PK cells, ROW_DATA cells, DELETE_ROW_MARKER, ROW_CHECKSUM; a cell is CELL, CELL_NAME (u32
 * length + bytes), CELL_VALUE (u32 length, type byte, payload), CELL_TYPE, CELL_TIMESTAMP (i64),
 * CELL_CHECKSUM.
 */

export const HEADER = 0x75;
const TAG = {
  rowPk: 0x01,
  rowData: 0x02,
  cell: 0x03,
  cellName: 0x04,
  cellValue: 0x05,
  cellType: 0x06,
  cellTimestamp: 0x07,
  deleteRowMarker: 0x08,
  rowChecksum: 0x09,
  cellChecksum: 0x0a,
} as const;
const VT = { integer: 0x00, string: 0x03 } as const;

/** Cell operation types in UpdateRow (absent = put). */
export const CELL_OP = { deleteAllVersions: 0x01, deleteOneVersion: 0x03, increment: 0x04 } as const;

/** STRING ↔ string, INTEGER ↔ number (the emulator rejects other types and unsafe integers). */
export type CellValue = string | number;

export interface PbCell {
  name: string;
  value?: CellValue;
  op?: number;
  timestamp?: number;
}

export interface PbRow {
  primaryKey: PbCell[];
  cells: PbCell[];
  deleteMarker: boolean;
}

/** A row the SDK sent that is malformed or uses what the emulator does not support. */
export class PlainBufferError extends Error {
  override name = 'PlainBufferError';
}

// CRC-8, polynomial 0x07, as the SDK computes it.
const CRC_TABLE = Array.from({ length: 256 }, (_, i) => {
  let c = i;
  for (let k = 0; k < 8; k++) c = c & 0x80 ? ((c << 1) ^ 0x07) & 0xff : (c << 1) & 0xff;
  return c;
});
const crcByte = (crc: number, byte: number): number => CRC_TABLE[(crc ^ byte) & 0xff] ?? 0;
const crcBytes = (crc: number, bytes: Uint8Array): number => bytes.reduce(crcByte, crc);
const u32 = (n: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n);
  return b;
};
const i64 = (n: number): Buffer => {
  const b = Buffer.alloc(8);
  b.writeBigInt64LE(BigInt(n));
  return b;
};

class Reader {
  private pos = 0;
  private tag = 0;
  constructor(private readonly buf: Buffer) {}

  bytes(n: number): Buffer {
    if (this.pos + n > this.buf.length) throw new PlainBufferError('PlainBuffer ends early');
    const out = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }
  byte(): number {
    return this.bytes(1)[0] ?? 0;
  }
  u32(): number {
    return this.bytes(4).readUInt32LE();
  }
  next(): number {
    this.tag = this.pos < this.buf.length ? this.byte() : 0;
    return this.tag;
  }
  /** A method, not `r.tag === …`: TypeScript would keep a narrowed `tag` across `next()` calls. */
  at(tag: number): boolean {
    return this.tag === tag;
  }
}

/** Reads a type byte and its payload; returns the value and the cell checksum over them. */
function readVariant(r: Reader, crc: number): { value: CellValue; crc: number } {
  const type = r.byte();
  crc = crcByte(crc, type);
  if (type === VT.integer) {
    const raw = r.bytes(8);
    const value = Number(raw.readBigInt64LE());
    if (!Number.isSafeInteger(value))
      throw new PlainBufferError('emulator: INTEGER beyond 2^53 not supported');
    return { value, crc: crcBytes(crc, raw) };
  }
  if (type === VT.string) {
    const length = r.bytes(4);
    const text = r.bytes(length.readUInt32LE());
    return { value: text.toString('utf8'), crc: crcBytes(crcBytes(crc, length), text) };
  }
  throw new PlainBufferError(`emulator: only STRING and INTEGER cells are supported (type ${type})`);
}

/** A column condition's value: the bare variant (type byte + payload). */
export function readConditionValue(bytes: Uint8Array): CellValue {
  return readVariant(new Reader(Buffer.from(bytes)), 0).value;
}

function readCell(r: Reader): { cell: PbCell; crc: number } {
  if (r.next() !== TAG.cellName) throw new PlainBufferError('expected CELL_NAME');
  const name = r.bytes(r.u32());
  let crc = crcBytes(0, name);
  const cell: PbCell = { name: name.toString('utf8') };
  r.next();
  if (r.at(TAG.cellValue)) {
    r.u32();
    const variant = readVariant(r, crc);
    cell.value = variant.value;
    crc = variant.crc;
    r.next();
  }
  if (r.at(TAG.cellType)) {
    cell.op = r.byte();
    r.next();
  }
  if (r.at(TAG.cellTimestamp)) {
    const raw = r.bytes(8);
    cell.timestamp = Number(raw.readBigInt64LE());
    crc = crcBytes(crc, raw);
    r.next();
  }
  // The SDK folds the operation type in after the timestamp.
  if (cell.op !== undefined) crc = crcByte(crc, cell.op);
  if (!r.at(TAG.cellChecksum)) throw new PlainBufferError('expected CELL_CHECKSUM');
  if (r.byte() !== crc) throw new PlainBufferError(`cell ${cell.name}: checksum mismatch`);
  r.next();
  return { cell, crc };
}

export function readRow(bytes: Uint8Array): PbRow {
  const r = new Reader(Buffer.from(bytes));
  if (r.u32() !== HEADER) throw new PlainBufferError('not a PlainBuffer (bad header)');
  const row: PbRow = { primaryKey: [], cells: [], deleteMarker: false };
  let crc = 0;
  r.next();
  for (const [tag, into] of [
    [TAG.rowPk, row.primaryKey],
    [TAG.rowData, row.cells],
  ] as const) {
    if (!r.at(tag)) continue;
    r.next();
    while (r.at(TAG.cell)) {
      const read = readCell(r);
      into.push(read.cell);
      crc = crcByte(crc, read.crc);
    }
  }
  if (r.at(TAG.deleteRowMarker)) {
    row.deleteMarker = true;
    r.next();
  }
  crc = crcByte(crc, row.deleteMarker ? 1 : 0);
  if (!r.at(TAG.rowChecksum)) throw new PlainBufferError('expected ROW_CHECKSUM');
  if (r.byte() !== crc) throw new PlainBufferError('row checksum mismatch');
  return row;
}

function writeCell(name: string, value: CellValue, timestamp?: number): { bytes: Buffer; crc: number } {
  const nameBytes = Buffer.from(name, 'utf8');
  let crc = crcBytes(0, nameBytes);
  let variant: Buffer;
  if (typeof value === 'number') {
    variant = Buffer.concat([Buffer.of(VT.integer), i64(value)]);
  } else {
    const text = Buffer.from(value, 'utf8');
    variant = Buffer.concat([Buffer.of(VT.string), u32(text.length), text]);
  }
  crc = crcBytes(crc, variant);
  const parts = [Buffer.of(TAG.cell, TAG.cellName), u32(nameBytes.length), nameBytes];
  parts.push(Buffer.of(TAG.cellValue), u32(variant.length), variant);
  if (timestamp !== undefined) {
    parts.push(Buffer.of(TAG.cellTimestamp), i64(timestamp));
    crc = crcBytes(crc, i64(timestamp));
  }
  parts.push(Buffer.of(TAG.cellChecksum, crc));
  return { bytes: Buffer.concat(parts), crc };
}

/** A row as GetRow returns it: primary key, then the attribute cells with their timestamps. */
export function writeRow(
  primaryKey: ReadonlyArray<readonly [string, CellValue]>,
  cells: ReadonlyArray<readonly [string, CellValue]>,
  timestamp: number,
): Buffer {
  const parts = [u32(HEADER), Buffer.of(TAG.rowPk)];
  let crc = 0;
  const add = (cell: { bytes: Buffer; crc: number }) => {
    parts.push(cell.bytes);
    crc = crcByte(crc, cell.crc);
  };
  for (const [name, value] of primaryKey) add(writeCell(name, value));
  if (cells.length > 0) parts.push(Buffer.of(TAG.rowData));
  for (const [name, value] of cells) add(writeCell(name, value, timestamp));
  parts.push(Buffer.of(TAG.rowChecksum, crcByte(crc, 0)));
  return Buffer.concat(parts);
}
