// ApprovalStore over ApprovalRequest custom resources: the cluster is the only state, so
// any gateway replica sees every request, and a restart forgets nothing. updateStatus is a
// PUT of the status subresource carrying the resourceVersion that was read: the API server
// answers 409 if anyone (an approver, the controller, another gateway) wrote in between,
// which is what makes "execute once" hold across replicas.
import type { ApprovalRequest } from '../api/types.ts';
import { API_VERSION, GROUP, VERSION } from '../api/types.ts';
import type { KubeClient } from '../kube/client.ts';
import { ApiError, isAlreadyExists, isConflict, isNotFound } from '../kube/client.ts';
import { CODES, GatewayError } from '../gateway/errors.ts';
import { ConflictError, type ApprovalStore } from './store.ts';

const ref = (namespace?: string, name?: string) => ({ group: GROUP, version: VERSION, plural: 'approvalrequests', namespace, name });

export class KubernetesApprovalStore implements ApprovalStore {
  /** `namespace`: the only namespace this store may touch (a gateway's own); undefined for all. */
  constructor(private readonly client: KubeClient, private readonly namespace?: string) {}

  private check(ns: string | undefined): string {
    const n = ns ?? this.namespace;
    if (!n) throw new Error('an ApprovalRequest needs a namespace');
    if (this.namespace && n !== this.namespace) throw new Error(`this gateway keeps approvals in namespace ${this.namespace}, not ${n}`);
    return n;
  }

  async create(req: ApprovalRequest): Promise<ApprovalRequest> {
    const ns = this.check(req.metadata.namespace);
    const { status, ...rest } = req;
    let created: ApprovalRequest;
    try {
      // The status subresource ignores status on create; it is written separately below.
      created = await this.client.create<ApprovalRequest>(ref(ns), { ...rest, apiVersion: API_VERSION, kind: 'ApprovalRequest', metadata: { ...req.metadata, namespace: ns } });
    } catch (e) {
      if (isAlreadyExists(e)) throw new ConflictError(`approval request ${ns}/${req.metadata.name} already exists`);
      throw e;
    }
    if (status?.phase) {
      try {
        created = await this.client.replace<ApprovalRequest>({ ...ref(ns, created.metadata.name), subresource: 'status' }, { ...created, status: { phase: status.phase } });
      } catch (e) {
        // The controller may have written the phase first: the request exists either way.
        if (!isConflict(e)) throw e;
        created = (await this.get(ns, created.metadata.name)) ?? created;
      }
    }
    return created;
  }

  async get(namespace: string, name: string): Promise<ApprovalRequest | undefined> {
    return this.client.find<ApprovalRequest>(ref(this.check(namespace), name));
  }

  async list(namespace?: string): Promise<ApprovalRequest[]> {
    const ns = namespace ?? this.namespace;
    if (ns) this.check(ns);
    const l = await this.client.list<ApprovalRequest>(ref(ns));
    return l.items.map((i) => ({ ...i, apiVersion: API_VERSION, kind: 'ApprovalRequest' }));
  }

  async updateStatus(req: ApprovalRequest): Promise<ApprovalRequest> {
    const ns = this.check(req.metadata.namespace);
    const key = `${ns}/${req.metadata.name}`;
    if (!req.metadata.resourceVersion) throw new ConflictError(`approval request ${key} has no resourceVersion: read it before updating`);
    try {
      return await this.client.replace<ApprovalRequest>({ ...ref(ns, req.metadata.name), subresource: 'status' }, { ...req, apiVersion: API_VERSION, kind: 'ApprovalRequest' });
    } catch (e) {
      if (isConflict(e)) throw new ConflictError(`approval request ${key} was changed by someone else`);
      if (isNotFound(e)) throw new ConflictError(`approval request ${key} no longer exists`);
      // The admission policy (or a CRD rule) said no: a decision through the gateway is the
      // gateway's ServiceAccount deciding, which the API server rightly refuses.
      if (e instanceof ApiError && (e.status === 403 || e.status === 422)) {
        throw new GatewayError(403, CODES.notAuthorized, 'review_forbidden', `the API server refused the change to ${key}: ${e.message}; in a cluster, approvers decide with kubectl phigate approve|deny ${req.metadata.name} -n ${ns} --reason TEXT`);
      }
      throw e;
    }
  }
}
