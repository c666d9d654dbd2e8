// DuckDB result values encoded as Snowflake's SQL API v2 encodes them: every value a string
// (NULL stays null), dates and times as numbers of days or seconds. One converter per column
// is chosen once from the column type, so the per-cell work is a getItem and a format.
import {
  DuckDBTypeId, JsonDuckDBValueConverter,
  type DuckDBBlobValue, type DuckDBDateValue, type DuckDBDecimalValue, type DuckDBTimestampValue,
  type DuckDBTimeValue, type DuckDBTimeTZValue, type DuckDBType, type DuckDBValue, type DuckDBVector,
} from '@duckdb/node-api';
import { isTextual, snowflakeTypeOf } from './catalog.ts';
import type { ResultColumn } from './types.ts';

export type CellEncoder = (vector: DuckDBVector, row: number) => string | null;

/** TIMESTAMP_TZ values carry "seconds offset", the offset in minutes plus 1440 (DuckDB's are UTC). */
const UTC_OFFSET_SUFFIX = ' 1440';

/** `units` counted at `perSecond` per second, as seconds with exactly 9 fraction digits. */
export function secondsText(units: bigint, perSecond: bigint): string {
  const negative = units < 0n;
  const abs = negative ? -units : units;
  const fractionDigits = perSecond.toString().length - 1;
  const fraction = (abs % perSecond).toString().padStart(fractionDigits, '0').padEnd(9, '0');
  return `${negative ? '-' : ''}${abs / perSecond}.${fraction}`;
}

/** The shortest decimal that reads back as the same float32 (DuckDB FLOAT), not its float64 widening. */
function float32Text(x: number): string {
  if (!Number.isFinite(x)) return String(x);
  for (let p = 1; p <= 9; p++) {
    const s = Number(x.toPrecision(p));
    if (Math.fround(s) === x) return String(s);
  }
  return String(x);
}

function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}

/** Wraps a value formatter into a cell encoder that keeps NULL as null. */
function cell<T>(format: (value: T) => string): CellEncoder {
  return (vector, row) => {
    const v = vector.getItem(row);
    return v === null ? null : format(v as T);
  };
}

const json = (value: DuckDBValue, type: DuckDBType): string =>
  JSON.stringify(JsonDuckDBValueConverter(value, type, JsonDuckDBValueConverter));

export function cellEncoder(type: DuckDBType): CellEncoder {
  switch (type.typeId) {
    case DuckDBTypeId.BOOLEAN:
      return cell<boolean>((v) => (v ? 'true' : 'false'));
    case DuckDBTypeId.TINYINT: case DuckDBTypeId.SMALLINT: case DuckDBTypeId.INTEGER: case DuckDBTypeId.BIGINT:
    case DuckDBTypeId.UTINYINT: case DuckDBTypeId.USMALLINT: case DuckDBTypeId.UINTEGER: case DuckDBTypeId.UBIGINT:
    case DuckDBTypeId.HUGEINT: case DuckDBTypeId.UHUGEINT: case DuckDBTypeId.BIGNUM:
      return cell<number | bigint>((v) => String(v));
    case DuckDBTypeId.DECIMAL:
      // toString keeps the scale: DECIMAL(10,2) 12.5 is "12.50", as Snowflake prints NUMBER(10,2).
      return cell<DuckDBDecimalValue>((v) => v.toString());
    case DuckDBTypeId.FLOAT:
      return cell<number>(float32Text);
    case DuckDBTypeId.DOUBLE:
      return cell<number>((v) => String(v));
    case DuckDBTypeId.DATE:
      return cell<DuckDBDateValue>((v) => String(v.days));
    case DuckDBTypeId.TIMESTAMP:
      return cell<DuckDBTimestampValue>((v) => secondsText(v.micros, 1_000_000n));
    case DuckDBTypeId.TIMESTAMP_S:
      return cell<{ seconds: bigint }>((v) => secondsText(v.seconds, 1n));
    case DuckDBTypeId.TIMESTAMP_MS:
      return cell<{ millis: bigint }>((v) => secondsText(v.millis, 1_000n));
    case DuckDBTypeId.TIMESTAMP_NS:
      return cell<{ nanos: bigint }>((v) => secondsText(v.nanos, 1_000_000_000n));
    case DuckDBTypeId.TIMESTAMP_TZ:
      return cell<DuckDBTimestampValue>((v) => secondsText(v.micros, 1_000_000n) + UTC_OFFSET_SUFFIX);
    case DuckDBTypeId.TIME:
      return cell<DuckDBTimeValue>((v) => secondsText(v.micros, 1_000_000n));
    case DuckDBTypeId.TIME_NS:
      return cell<{ nanos: bigint }>((v) => secondsText(v.nanos, 1_000_000_000n));
    case DuckDBTypeId.TIME_TZ:
      return cell<DuckDBTimeTZValue>((v) => secondsText(v.micros, 1_000_000n));
    case DuckDBTypeId.VARCHAR:
      // JSON is a VARCHAR with an alias: its text is already JSON.
      return cell<string>((v) => v);
    case DuckDBTypeId.BLOB:
      return cell<DuckDBBlobValue>((v) => hex(v.bytes));
    case DuckDBTypeId.LIST: case DuckDBTypeId.STRUCT: case DuckDBTypeId.MAP: case DuckDBTypeId.ARRAY:
    case DuckDBTypeId.UNION: case DuckDBTypeId.VARIANT:
      return cell<DuckDBValue>((v) => json(v, type));
    default:
      // ENUM, UUID, INTERVAL, BIT, GEOMETRY, ...: DuckDB's own text form.
      return cell<DuckDBValue>((v) => String(v));
  }
}

/** The Snowflake column metadata for a DuckDB result column. */
export function resultColumn(name: string, type: DuckDBType): ResultColumn {
  const sf = snowflakeTypeOf(type.alias === 'JSON' ? 'JSON' : type.toString());
  // DuckDB results do not say whether a column can hold NULL; claim it can.
  return { name, type: sf, textual: isTextual(sf), nullable: true };
}
