// Open the warehouse a policy names. Policies with the same warehouse share one connection.
import type { WarehouseSpec } from '../api/types.ts';
import type { Warehouse } from './types.ts';
import { openDuckDBWarehouse } from './duckdb.ts';

export class WarehouseUnavailable extends Error {
  constructor(message: string) { super(message); this.name = 'WarehouseUnavailable'; }
}

export function warehouseKey(spec: WarehouseSpec): string {
  return spec.type === 'duckdb' ? `duckdb:${spec.duckdb?.path}:${spec.duckdb?.schema ?? ''}` : `snowflake:${spec.snowflake?.account}:${spec.snowflake?.database}:${spec.snowflake?.schema}:${spec.snowflake?.role ?? ''}`;
}

export async function openWarehouse(spec: WarehouseSpec, opts: { readOnly: boolean; cacheDir?: string; onProgress?: (m: string) => void }): Promise<Warehouse> {
  if (spec.type === 'duckdb') {
    if (!spec.duckdb) throw new WarehouseUnavailable('warehouse.duckdb is required when warehouse.type is duckdb');
    return openDuckDBWarehouse(spec.duckdb, opts);
  }
  throw new WarehouseUnavailable(`warehouse type ${spec.type} is not supported by this build yet (only duckdb); see the README's roadmap`);
}
