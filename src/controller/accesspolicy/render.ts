// What a namespace's AccessPolicies need, as Kubernetes objects: one gateway serving all of
// them. Pure: the same policies and options give the same objects, byte for byte, so a
// reconcile that finds nothing changed writes nothing.
import { createHash } from 'node:crypto';
import { API_VERSION, GROUP } from '../../api/types.ts';
import type { AccessPolicy } from '../../api/types.ts';
import type { ResolvedOidcOptions } from '../../gateway/oidc-config.ts';
import type { KubeObject, OwnerReference } from '../../kube/client.ts';
import { referencedSecrets } from '../../api/secret-refs.ts';

export const GATEWAY_NAME = 'phigate-gateway';
export const GATEWAY_PORT = 8443;
export const GATEWAY_AUDIENCE = 'phigate';
export const MANAGED_BY = 'phigate-controller';
/** The ClusterRole (in the install manifests) that lets gateways call TokenReview. */
export const TOKENREVIEW_CLUSTERROLE = 'phigate-gateway-tokenreview';
export const CONFIG_HASH_ANNOTATION = 'phigate.io/config-hash';
export const CONFIG_KEY = 'gateway.yaml';

export const SELECTOR_LABELS = {
  'app.kubernetes.io/name': 'phigate',
  'app.kubernetes.io/component': 'gateway',
} as const;

/** Selects everything the controller made for gateways (namespaced and cluster-scoped). */
export const MANAGED_SELECTOR = `app.kubernetes.io/managed-by=${MANAGED_BY},app.kubernetes.io/component=gateway`;

export interface RenderOptions {
  image: string;
  replicas: number;
  version: string;
  imagePullPolicy?: 'Always' | 'IfNotPresent' | 'Never';
  /** Pod-spec defaults from the chart (PHIGATE_GATEWAY_DEFAULTS); the built-in ones otherwise. */
  resources?: Record<string, unknown>;
  podSecurityContext?: Record<string, unknown>;
  securityContext?: Record<string, unknown>;
  /** OIDC login for agents (chart values oidc.*), checked by the controller; none: TokenReview only. */
  oidc?: ResolvedOidcOptions;
}

export const DEFAULT_GATEWAY_RESOURCES = { requests: { cpu: '100m', memory: '256Mi' }, limits: { memory: '1Gi' } };
export const DEFAULT_GATEWAY_POD_SECURITY = { runAsNonRoot: true, runAsUser: 65532, runAsGroup: 65532, seccompProfile: { type: 'RuntimeDefault' } };
export const DEFAULT_GATEWAY_SECURITY = { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } };

export interface Rendered {
  /** In the policies' namespace, owned by every policy. */
  namespaced: KubeObject[];
  /** Cluster-scoped (cannot be owned by a namespaced object): deleted by the controller with the gateway. */
  cluster: KubeObject[];
  /** What the policies' status reports as the gateway address. */
  serviceAddress: string;
}

export function serviceAddress(namespace: string): string {
  return `${GATEWAY_NAME}.${namespace}.svc:${GATEWAY_PORT}`;
}

/** A YAML flow mapping whose values are JSON strings (valid YAML, whatever they contain). */
function flowMapping(o: object): string {
  return `{ ${Object.entries(o).filter(([, v]) => v !== undefined).map(([k, v]) => `${k}: ${JSON.stringify(v)}`).join(', ')} }`;
}

export function clusterRoleBindingName(namespace: string): string {
  return `${GATEWAY_NAME}-${namespace}`;
}

/** `policies` are the namespace's live AccessPolicies (at least one). */
export function render(namespace: string, policies: readonly AccessPolicy[], opts: RenderOptions): Rendered {
  if (policies.length === 0) throw new Error('render needs at least one AccessPolicy');
  const sorted = [...policies].sort((a, b) => a.metadata.name.localeCompare(b.metadata.name));
  const labels = {
    ...SELECTOR_LABELS,
    'app.kubernetes.io/instance': `${GATEWAY_NAME}-${namespace}`,
    'app.kubernetes.io/part-of': 'phigate',
    'app.kubernetes.io/managed-by': MANAGED_BY,
    'app.kubernetes.io/version': opts.version,
  };
  const ownerReferences: OwnerReference[] = sorted.map((p) => ({
    apiVersion: API_VERSION, kind: 'AccessPolicy', name: p.metadata.name, uid: p.metadata.uid ?? '',
  }));
  const meta = (name: string) => ({ name, namespace, labels, ownerReferences });

  // Settings that need a restart: their hash rolls the pods. The policy list does not: the
  // gateway watches the namespace's AccessPolicies and picks changes up live.
  const settings = {
    namespace,
    listen: { port: GATEWAY_PORT },
    auth: { tokenReview: { audience: GATEWAY_AUDIENCE }, ...(opts.oidc ? { oidc: opts.oidc } : {}) },
    approvals: { store: 'kubernetes' },
  };
  const configHash = createHash('sha256').update(JSON.stringify(settings)).digest('hex').slice(0, 16);
  const config = [
    '# Written by the phigate controller; edits are overwritten.',
    `namespace: ${namespace}`,
    `listen: { port: ${GATEWAY_PORT} }`,
    `auth: { tokenReview: { audience: ${GATEWAY_AUDIENCE} }${opts.oidc ? `, oidc: ${flowMapping(opts.oidc)}` : ''} }`,
    'approvals: { store: kubernetes }',
    '# Informational: the gateway serves every AccessPolicy of its namespace.',
    `policies: [${sorted.map((p) => p.metadata.name).join(', ')}]`,
    '',
  ].join('\n');

  const secretNames = [...new Set(sorted.flatMap(referencedSecrets))].sort();
  const serviceAccount: KubeObject = { apiVersion: 'v1', kind: 'ServiceAccount', metadata: meta(GATEWAY_NAME) };

  const role: KubeObject = {
    apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'Role', metadata: meta(GATEWAY_NAME),
    rules: [
      { apiGroups: [GROUP], resources: ['accesspolicies'], verbs: ['get', 'list', 'watch'] },
      { apiGroups: [GROUP], resources: ['accesspolicies/status'], verbs: ['get', 'patch'] },
      { apiGroups: [GROUP], resources: ['approvalrequests'], verbs: ['get', 'list', 'watch', 'create'] },
      { apiGroups: [GROUP], resources: ['approvalrequests/status'], verbs: ['get', 'update', 'patch'] },
      // Only the Secrets a policy names (list and watch of one name need a
      // metadata.name field selector); no rule at all when none is named, since an empty
      // resourceNames would mean every Secret.
      ...(secretNames.length ? [{ apiGroups: [''], resources: ['secrets'], resourceNames: secretNames, verbs: ['get', 'list', 'watch'] }] : []),
      { apiGroups: [''], resources: ['events'], verbs: ['create', 'patch'] },
    ],
  };
  const roleBinding: KubeObject = {
    apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'RoleBinding', metadata: meta(GATEWAY_NAME),
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: GATEWAY_NAME },
    subjects: [{ kind: 'ServiceAccount', name: GATEWAY_NAME, namespace }],
  };
  const configMap: KubeObject = { apiVersion: 'v1', kind: 'ConfigMap', metadata: meta(GATEWAY_NAME), data: { [CONFIG_KEY]: config } };
  const service: KubeObject = {
    apiVersion: 'v1', kind: 'Service', metadata: meta(GATEWAY_NAME),
    spec: {
      type: 'ClusterIP',
      selector: { ...SELECTOR_LABELS },
      ports: [{ name: 'http', port: GATEWAY_PORT, targetPort: 'http', protocol: 'TCP' }],
    },
  };
  const deployment: KubeObject = {
    apiVersion: 'apps/v1', kind: 'Deployment', metadata: meta(GATEWAY_NAME),
    spec: {
      replicas: opts.replicas,
      selector: { matchLabels: { ...SELECTOR_LABELS } },
      template: {
        metadata: { labels, annotations: { [CONFIG_HASH_ANNOTATION]: configHash } },
        spec: {
          serviceAccountName: GATEWAY_NAME,
          securityContext: opts.podSecurityContext ?? DEFAULT_GATEWAY_POD_SECURITY,
          containers: [{
            name: 'gateway',
            image: opts.image,
            ...(opts.imagePullPolicy ? { imagePullPolicy: opts.imagePullPolicy } : {}),
            args: ['gateway', '--config', `/etc/phigate/${CONFIG_KEY}`, '--host', '0.0.0.0', '--port', String(GATEWAY_PORT), '--log-format', 'json'],
            env: [
              { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
              { name: 'POD_NAMESPACE', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
              { name: 'PHIGATE_CACHE_DIR', value: '/var/cache/phigate' },
            ],
            ports: [{ name: 'http', containerPort: GATEWAY_PORT, protocol: 'TCP' }],
            readinessProbe: { httpGet: { path: '/readyz', port: 'http' }, periodSeconds: 5 },
            livenessProbe: { httpGet: { path: '/healthz', port: 'http' }, periodSeconds: 10, failureThreshold: 6 },
            resources: opts.resources ?? DEFAULT_GATEWAY_RESOURCES,
            securityContext: opts.securityContext ?? DEFAULT_GATEWAY_SECURITY,
            volumeMounts: [
              { name: 'config', mountPath: '/etc/phigate', readOnly: true },
              { name: 'cache', mountPath: '/var/cache/phigate' },
              { name: 'tmp', mountPath: '/tmp' },
            ],
          }],
          volumes: [
            { name: 'config', configMap: { name: GATEWAY_NAME } },
            { name: 'cache', emptyDir: {} },
            { name: 'tmp', emptyDir: {} },
          ],
        },
      },
    },
  };
  const clusterRoleBinding: KubeObject = {
    apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRoleBinding',
    metadata: { name: clusterRoleBindingName(namespace), labels },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: TOKENREVIEW_CLUSTERROLE },
    subjects: [{ kind: 'ServiceAccount', name: GATEWAY_NAME, namespace }],
  };
  return {
    namespaced: [serviceAccount, role, roleBinding, configMap, service, deployment],
    cluster: [clusterRoleBinding],
    serviceAddress: serviceAddress(namespace),
  };
}
