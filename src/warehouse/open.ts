// Open the warehouse a policy names. Policies with the same warehouse share one connection.
import type { SecretObject, WarehouseSpec } from '../api/types.ts';
import type { Warehouse } from './types.ts';
import { openDuckDBWarehouse } from './duckdb.ts';

export class WarehouseUnavailable extends Error {
  constructor(message: string) { super(message); this.name = 'WarehouseUnavailable'; }
}

/**
 * Policies with equal keys share one warehouse (one DuckDB instance, one Snowflake pool). A
 * Snowflake key includes the namespace and credentials Secret: policies of different
 * namespaces, or with different credentials, never share a pool.
 */
export function warehouseKey(spec: WarehouseSpec, namespace = 'default'): string {
  if (spec.type === 'duckdb') return `duckdb:${spec.duckdb?.path}:${spec.duckdb?.schema ?? ''}`;
  const s = spec.snowflake;
  return `snowflake:${JSON.stringify([namespace, s?.credentialsSecretRef?.name, s?.account, s?.database, s?.schema, s?.warehouse ?? '', s?.role ?? ''])}`;
}

export interface OpenWarehouseOptions {
  readOnly: boolean;
  cacheDir?: string;
  onProgress?: (m: string) => void;
  /** Secrets loaded with the policies (Snowflake credentials), and the policy's namespace. */
  secrets?: readonly SecretObject[];
  namespace?: string;
}

export async function openWarehouse(spec: WarehouseSpec, opts: OpenWarehouseOptions): Promise<Warehouse> {
  if (spec.type === 'duckdb') {
    if (!spec.duckdb) throw new WarehouseUnavailable('warehouse.duckdb is required when warehouse.type is duckdb');
    return openDuckDBWarehouse(spec.duckdb, opts);
  }
  if (spec.type === 'snowflake') {
    if (!spec.snowflake) throw new WarehouseUnavailable('warehouse.snowflake is required when warehouse.type is snowflake');
    // Loaded on first use: snowflake-sdk is large and only Snowflake policies need it.
    const { openSnowflakeWarehouse } = await import('./snowflake.ts');
    return openSnowflakeWarehouse(spec.snowflake, { readOnly: opts.readOnly, secrets: opts.secrets ?? [], namespace: opts.namespace ?? 'default', onProgress: opts.onProgress });
  }
  throw new WarehouseUnavailable(`warehouse type ${String(spec.type)} is not supported`);
}
