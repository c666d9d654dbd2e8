// The API schema, read from crds/*.yaml: the CRDs are the single source of truth, so the
// standalone loader validates against exactly what the API server enforces in a cluster.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { GROUP, VERSION } from './types.ts';

export type ApiKind = 'AccessPolicy' | 'ApprovalRequest';

/** The subset of a CRD's OpenAPI v3 (structural) schema that phigate reads. */
export interface OpenAPISchema {
  type?: 'object' | 'array' | 'string' | 'integer' | 'number' | 'boolean';
  description?: string;
  properties?: Record<string, OpenAPISchema>;
  required?: string[];
  items?: OpenAPISchema;
  additionalProperties?: OpenAPISchema | boolean;
  enum?: unknown[];
  default?: unknown;
  pattern?: string;
  format?: string;
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
  minItems?: number;
  maxItems?: number;
  minProperties?: number;
  'x-kubernetes-validations'?: CelRule[];
  'x-kubernetes-list-type'?: 'atomic' | 'set' | 'map';
  'x-kubernetes-list-map-keys'?: string[];
  'x-kubernetes-preserve-unknown-fields'?: boolean;
}

/** One x-kubernetes-validations entry. */
export interface CelRule {
  rule: string;
  message?: string;
  fieldPath?: string;
  reason?: string;
}

export interface CustomResourceDefinition {
  apiVersion: 'apiextensions.k8s.io/v1';
  kind: 'CustomResourceDefinition';
  metadata: { name: string };
  spec: {
    group: string;
    names: { kind: string; plural: string; singular?: string; shortNames?: string[]; categories?: string[] };
    versions: { name: string; served: boolean; storage: boolean; schema: { openAPIV3Schema: OpenAPISchema } }[];
  };
}

const PLURAL: Record<ApiKind, string> = {
  AccessPolicy: 'accesspolicies',
  ApprovalRequest: 'approvalrequests',
};

/** Resolved from this file, not the cwd, so `phigate` works wherever it is started. */
export const CRD_DIR = fileURLToPath(new URL('../../crds/', import.meta.url));

export function crdPath(kind: ApiKind): string {
  return `${CRD_DIR}${PLURAL[kind]}.${GROUP}.yaml`;
}

const cache = new Map<ApiKind, CustomResourceDefinition>();

/** The CRD for `kind`, read once per process. */
export function loadCrd(kind: ApiKind): CustomResourceDefinition {
  let crd = cache.get(kind);
  if (!crd) {
    const path = crdPath(kind);
    crd = parse(readFileSync(path, 'utf8')) as CustomResourceDefinition;
    if (crd?.kind !== 'CustomResourceDefinition' || crd.spec?.names?.kind !== kind) {
      throw new Error(`${path} is not the CustomResourceDefinition for ${kind}`);
    }
    cache.set(kind, crd);
  }
  return crd;
}

/** The openAPIV3Schema of the phigate.io/v1alpha1 version of `kind`. */
export function openAPISchema(kind: ApiKind): OpenAPISchema {
  const version = loadCrd(kind).spec.versions.find((v) => v.name === VERSION);
  if (!version) throw new Error(`${crdPath(kind)} has no ${VERSION} version`);
  return version.schema.openAPIV3Schema;
}
