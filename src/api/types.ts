// TypeScript view of the phigate.io/v1alpha1 API. crds/*.yaml is the source of truth for
// the schema; test/unit/api/schema.test.ts proves the two agree on field names.

export const GROUP = 'phigate.io';
export const VERSION = 'v1alpha1';
export const API_VERSION = `${GROUP}/${VERSION}`;

export interface ObjectMeta {
  name: string;
  namespace?: string;
  generation?: number;
  resourceVersion?: string;
  uid?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  creationTimestamp?: string;
}

export interface Condition {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  reason: string;
  message: string;
  lastTransitionTime?: string;
  observedGeneration?: number;
}

export type SubjectKind = 'ServiceAccount' | 'User' | 'Group';
export interface Subject { kind: SubjectKind; name: string; namespace?: string }

export type WarehouseType = 'snowflake' | 'duckdb';
export interface SecretRef { name: string }
export interface SnowflakeWarehouseSpec {
  account: string;
  database: string;
  schema: string;
  warehouse?: string;
  role?: string;
  credentialsSecretRef: SecretRef;
}
export interface DuckDBWarehouseSpec {
  /** A DuckDB file, or ":demo:" for the bundled synthetic dataset. */
  path: string;
  /** Schema that unqualified names resolve against (default "main"). */
  schema?: string;
}
export interface WarehouseSpec {
  type: WarehouseType;
  snowflake?: SnowflakeWarehouseSpec;
  duckdb?: DuckDBWarehouseSpec;
}

export type StatementKind =
  | 'SELECT' | 'INSERT' | 'UPDATE' | 'DELETE' | 'MERGE' | 'CREATE' | 'ALTER' | 'DROP'
  | 'TRUNCATE' | 'GRANT' | 'REVOKE' | 'COPY' | 'SET' | 'USE' | 'CALL' | 'EXPLAIN'
  | 'DESCRIBE' | 'SHOW' | 'PUT' | 'GET' | 'MULTI' | 'OTHER';

export interface TableAccess { name: string; columns: string[] }
export interface AccessSpec {
  statements: StatementKind[];
  tables: TableAccess[];
  maxRows?: number;
}

export type MaskStrategy =
  | 'redact' | 'partial' | 'hash' | 'null' | 'year' | 'zip3' | 'email_domain' | 'scrub';
export interface MaskingRule {
  /** TABLE.COLUMN, or *.COLUMN for that column name in every table. */
  columns: string[];
  strategy: MaskStrategy;
  /** partial: how many trailing characters stay visible (default 4). */
  keep?: number;
}
export type DetectorName =
  | 'ssn' | 'phone' | 'email' | 'mrn' | 'date' | 'ip' | 'url' | 'zip' | 'credit_card';
export interface MaskingSpec {
  rules?: MaskingRule[];
  detectors?: DetectorName[];
  /** Secret holding the key for the `hash` strategy (key `hashKey`). */
  hashKeySecretRef?: SecretRef;
}

export type GuardrailClass =
  | 'ddl' | 'dml_without_where' | 'dml' | 'copy_into' | 'grant' | 'multi_statement'
  | 'unparsed' | 'session_change' | 'external_access';
export interface GuardrailsSpec {
  /** Absent: every class is denied (the CRD's default, applied by validateAccessPolicy); [] denies none. */
  deny?: GuardrailClass[];
}

export interface ApprovalCondition {
  unmasked?: string[];
  rowsOver?: number;
  statements?: StatementKind[];
  tables?: string[];
}
export interface Approver { kind: 'User' | 'Group'; name: string }
export interface ApprovalSpec {
  requiredWhen?: ApprovalCondition[];
  approvers?: Approver[];
  /** Distinct approvals needed (default 1). */
  requiredApprovals?: number;
  /** How long a request and its approval live: 15m, 1h30m, 90s (default 15m). */
  ttl?: string;
}

export interface AuditSpec {
  /** What of a response the audit record keeps (default masked). */
  results?: 'masked' | 'digest' | 'none';
}

export interface AccessPolicySpec {
  warehouse: WarehouseSpec;
  subjects: Subject[];
  access: AccessSpec;
  masking?: MaskingSpec;
  guardrails?: GuardrailsSpec;
  approval?: ApprovalSpec;
  audit?: AuditSpec;
}
export interface AccessPolicyStatus {
  observedGeneration?: number;
  conditions?: Condition[];
  gateway?: { service?: string };
}
export interface AccessPolicy {
  apiVersion: typeof API_VERSION;
  kind: 'AccessPolicy';
  metadata: ObjectMeta;
  spec: AccessPolicySpec;
  status?: AccessPolicyStatus;
}

export type ApprovalPhase = 'Pending' | 'Approved' | 'Denied' | 'Expired' | 'Executed';
export type ApprovalDecision = 'Approved' | 'Denied';
export interface Review { user: string; decision: ApprovalDecision; reason?: string; at: string }
export interface ApprovalRequestSpec {
  policyRef: { name: string };
  requester: { user: string; groups?: string[]; session?: string };
  statement: { sql: string; fingerprint: string; kind: string; tables?: string[]; columns?: string[]; unmask?: string[] };
  reasons: string[];
  justification?: string;
  approvers: Approver[];
  requiredApprovals: number;
  expiresAt: string;
}
export interface ApprovalRequestStatus {
  phase?: ApprovalPhase;
  decision?: ApprovalDecision;
  decidedBy?: string;
  reason?: string;
  reviews?: Review[];
  conditions?: Condition[];
}
export interface ApprovalRequest {
  apiVersion: typeof API_VERSION;
  kind: 'ApprovalRequest';
  metadata: ObjectMeta;
  spec: ApprovalRequestSpec;
  status?: ApprovalRequestStatus;
}

/** A Kubernetes Secret as read from YAML (data is base64, stringData plain). */
export interface SecretObject {
  apiVersion: 'v1';
  kind: 'Secret';
  metadata: ObjectMeta;
  data?: Record<string, string>;
  stringData?: Record<string, string>;
}
