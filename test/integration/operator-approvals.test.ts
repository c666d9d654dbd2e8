// Who may decide an ApprovalRequest, enforced by a real kube-apiserver (the
// ValidatingAdmissionPolicy in manifests/), decided with the real kubectl and the
// `kubectl phigate` plugin; the controller's lifecycle (quorum, expiry, clean-up); and the
// Kubernetes ApprovalStore under the unchanged ApprovalService (execute exactly once).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { AccessPolicy, ApprovalRequest } from '../../src/api/types.ts';
import { KubernetesApprovalStore } from '../../src/approvals/kubernetes.ts';
import { ApprovalService } from '../../src/approvals/service.ts';
import { ConflictError } from '../../src/approvals/store.ts';
import { AuditWriter } from '../../src/audit/writer.ts';
import { KubeClient } from '../../src/kube/client.ts';
import { Metrics } from '../../src/metrics/metrics.ts';
import { compilePolicy } from '../../src/policy/compile.ts';
import { StaticCatalog } from '../../src/warehouse/catalog.ts';
import { GatewayError } from '../../src/gateway/errors.ts';
import { startControlPlane, waitFor, type ControlPlane, type UserName } from '../helpers/controlplane.ts';
import { installOperator, PLUGIN_PATH, startController, type ControllerProcess } from '../helpers/operator.ts';

const NS = 'team-a';
let cp: ControlPlane;
let ctl: ControllerProcess;

const iso = (msFromNow: number) => new Date(Date.now() + msFromNow).toISOString().replace(/\.\d+Z$/, 'Z');
const request = (name: string, o: { required?: number; expiresInMs?: number; approvers?: string } = {}) => `apiVersion: phigate.io/v1alpha1
kind: ApprovalRequest
metadata: { name: ${name}, namespace: ${NS} }
spec:
  policyRef: { name: claims }
  requester: { user: agent-user, groups: [agents], session: s-1 }
  statement: { sql: "SELECT ssn FROM patients", fingerprint: "f00d", kind: SELECT, tables: [PATIENTS], columns: [PATIENTS.SSN] }
  reasons: [ "unmasked PATIENTS.SSN" ]
  justification: "ticket DATA-412"
  approvers: ${o.approvers ?? '[ { kind: Group, name: privacy-office } ]'}
  requiredApprovals: ${o.required ?? 1}
  expiresAt: "${iso(o.expiresInMs ?? 600_000)}"
`;
const create = (name: string, o?: Parameters<typeof request>[1]) => cp.kubectlOk(['apply', '-f', '-'], { input: request(name, o) });
const patchStatus = (as: UserName, name: string, status: object) =>
  cp.kubectl(['patch', 'approvalrequest', name, '-n', NS, '--subresource=status', '--type=merge', '-p', JSON.stringify({ status })], { as });
const decide = (as: UserName, name: string, decision: string, decidedBy: string) => patchStatus(as, name, { decision, decidedBy, reason: 'ticket DATA-412' });
const plugin = (as: UserName, args: string[]) => cp.kubectl(['phigate', ...args, '-n', NS, '--context', as], { env: { PATH: PLUGIN_PATH }, plugin: true });
const get = async (name: string): Promise<ApprovalRequest> => JSON.parse(await cp.kubectlOk(['get', 'approvalrequest', name, '-n', NS, '-o', 'json']));
const phaseIs = (name: string, phase: string, timeoutMs = 15_000) =>
  waitFor(`${name} ${phase}`, async () => { const r = await get(name); return r.status?.phase === phase ? r : undefined; }, timeoutMs);
const DENIED_BY_POLICY = /ValidatingAdmissionPolicy 'phigate-approval-decisions' with binding 'phigate-approval-decisions' denied request/;

before(async () => {
  cp = await startControlPlane();
  await installOperator(cp);
  // RBAC lets everyone in these groups patch the status: what stops the wrong ones is the admission policy.
  await cp.kubectlOk(['create', 'clusterrolebinding', 'reviewers', '--clusterrole=phigate-approver', '--group=privacy-office', '--group=others', '--group=agents']);
  await cp.kubectlOk(['create', 'namespace', NS]);
  ctl = await startController(cp, ['--approval-retention', '5s']);
  await ctl.waitForLog(/caches synced/);
});

after(async () => {
  await ctl?.stop('SIGKILL');
  await cp?.stop();
});

describe('the API server decides who may approve', () => {
  before(async () => { await create('one'); await phaseIs('one', 'Pending'); });

  it('refuses someone who is not a listed approver', async () => {
    const r = await decide('mallory', 'one', 'Approved', 'mallory');
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, DENIED_BY_POLICY);
    assert.match(r.stderr, /mallory is not an approver of this request; its approvers are group privacy-office/);
  });

  it('refuses the requester, even with approver RBAC', async () => {
    const r = await decide('agent', 'one', 'Approved', 'agent-user');
    assert.match(r.stderr, /agent-user requested this statement and cannot approve or deny it/);
  });

  it('refuses an approver who signs as someone else', async () => {
    const r = await decide('bob', 'one', 'Approved', 'carol@example.com');
    assert.match(r.stderr, /decidedBy must be your own username, bob@example\.com, not carol@example\.com/);
  });

  it('refuses setting the phase without the evidence, whoever holds patch', async () => {
    assert.match((await patchStatus('bob', 'one', { phase: 'Approved' })).stderr, /phase Approved needs 1 approval\(s\) by listed approvers/);
    assert.match((await patchStatus('mallory', 'one', { phase: 'Executed' })).stderr, /only an Approved request can be Executed/);
  });

  it('accepts a listed approver deciding as themselves; the controller moves the phase and records it', async () => {
    const r = await decide('bob', 'one', 'Approved', 'bob@example.com');
    assert.equal(r.status, 0, r.stderr);
    const ar = await phaseIs('one', 'Approved');
    const c = ar.status!.conditions!.find((x) => x.type === 'Decided')!;
    assert.deepEqual([c.status, c.reason], ['True', 'Approved']);
    const events = await cp.kubectlOk(['get', 'events', '-n', NS, '--field-selector', 'involvedObject.name=one', '-o', 'jsonpath={.items[*].reason}']);
    assert.match(events, /WaitingForApproval/);
    assert.match(events, /Approved/);
  });

  it('refuses a second decision, and a late review', async () => {
    const again = await decide('carol', 'one', 'Denied', 'carol@example.com');
    assert.notEqual(again.status, 0);
    assert.match(again.stderr, /decision is write-once/); // the CRD's rule, checked before admission
    const late = await patchStatus('carol', 'one', { reviews: [{ user: 'carol@example.com', decision: 'Denied', at: iso(0) }] });
    assert.match(late.stderr, /this request is already Approved; a decision is final/);
  });

  it('keeps the spec immutable', async () => {
    const r = await cp.kubectl(['patch', 'approvalrequest', 'one', '-n', NS, '--type=merge', '-p', '{"spec":{"justification":"changed"}}']);
    assert.match(r.stderr, /spec is immutable/);
  });

  it('accepts an approver named as a User as well as by group', async () => {
    await create('by-user', { approvers: '[ { kind: User, name: carol@example.com } ]' });
    assert.match((await decide('bob', 'by-user', 'Approved', 'bob@example.com')).stderr, /bob@example\.com is not an approver of this request; its approvers are carol@example\.com/);
    assert.equal((await decide('carol', 'by-user', 'Approved', 'carol@example.com')).status, 0);
    await phaseIs('by-user', 'Approved');
  });
});

describe('kubectl phigate', () => {
  it('approves as the caller (username from SelfSubjectReview)', async () => {
    await create('plug');
    const r = await plugin('bob', ['approve', 'plug', '--reason', 'ticket DATA-412']);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /approvalrequest team-a\/plug approved by bob@example\.com \(1 of 1 approval\)/);
    const ar = await phaseIs('plug', 'Approved');
    assert.deepEqual([ar.status!.decision, ar.status!.decidedBy, ar.status!.reason], ['Approved', 'bob@example.com', 'ticket DATA-412']);
    assert.deepEqual(ar.status!.reviews!.map((x) => x.user), ['bob@example.com']);
  });

  it('passes on the API server\'s refusal and fails', async () => {
    await create('plug-refused');
    const r = await plugin('mallory', ['approve', 'plug-refused', '--reason', 'why not']);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /Error from server \(Forbidden\): .*mallory is not an approver/);
    const own = await plugin('agent', ['approve', 'plug-refused', '--reason', 'mine']);
    assert.match(own.stderr, /agent-user requested this statement/);
  });

  it('collects a quorum of distinct approvers before the phase moves', async () => {
    await create('quorum', { required: 2 });
    assert.equal((await plugin('bob', ['approve', 'quorum', '--reason', 'ok'])).status, 0);
    const half = await waitFor('1 of 2', async () => {
      const r = await get('quorum');
      return r.status?.conditions?.some((c) => c.message.startsWith('1 of 2 approvals (bob@example.com)')) ? r : undefined;
    });
    assert.equal(half.status!.phase, 'Pending');
    assert.equal(half.status!.decision, undefined, 'no single decision with a quorum');
    // A direct decision cannot shortcut the quorum.
    assert.match((await decide('carol', 'quorum', 'Approved', 'carol@example.com')).stderr, /needs 2 approvals from distinct approvers/);
    assert.match((await plugin('bob', ['approve', 'quorum', '--reason', 'twice'])).stderr, /already reviewed/);
    const r = await plugin('carol', ['approve', 'quorum', '--reason', 'ok too']);
    assert.match(r.stdout, /2 of 2 approvals/);
    await phaseIs('quorum', 'Approved');
  });

  it('denies', async () => {
    await create('nope', { required: 2 });
    const r = await plugin('carol', ['deny', 'nope', '--reason', 'no ticket']);
    assert.match(r.stdout, /denied by carol@example\.com/);
    const ar = await phaseIs('nope', 'Denied');
    assert.match(ar.status!.conditions![0]!.message, /denied by carol@example\.com: no ticket/);
  });
});

describe('ApprovalRequest lifecycle', () => {
  it('expires an undecided request, then deletes it after the retention period', async () => {
    await create('short', { expiresInMs: 2000 });
    await phaseIs('short', 'Pending');
    const ar = await phaseIs('short', 'Expired', 10_000);
    assert.match(ar.status!.conditions![0]!.message, /not decided before/);
    assert.match((await decide('bob', 'short', 'Approved', 'bob@example.com')).stderr, /this request is already Expired/);
    await waitFor('deleted after retention', async () => (await cp.kubectl(['get', 'approvalrequest', 'short', '-n', NS])).status !== 0, 15_000);
  });
});

describe('Kubernetes ApprovalStore', () => {
  const policy: AccessPolicy = {
    apiVersion: 'phigate.io/v1alpha1', kind: 'AccessPolicy',
    metadata: { name: 'claims', namespace: NS, generation: 4 },
    spec: {
      warehouse: { type: 'duckdb', duckdb: { path: ':demo:' } }, subjects: [{ kind: 'User', name: 'agent-user' }],
      access: { statements: ['SELECT'], tables: [{ name: 'PATIENTS', columns: ['*'] }] },
      approval: { requiredWhen: [{ unmasked: ['PATIENTS.SSN'] }], approvers: [{ kind: 'Group', name: 'privacy-office' }], ttl: '10m' },
    },
  };
  const compiled = compilePolicy(policy, new StaticCatalog([]));
  const statement = { sql: 'SELECT ssn FROM patients', auditSql: 'SELECT ssn FROM patients', fingerprint: 'fp-1', kind: 'SELECT', tables: ['PATIENTS'], columns: ['PATIENTS.SSN'], unmask: ['PATIENTS.SSN'] };
  const binding = { user: 'agent-user', policy: 'claims', fingerprint: 'fp-1', unmask: ['PATIENTS.SSN'] };
  const audit: string[] = [];
  const gatewayClient = () => KubeClient.fromEnvironment({ kubeconfig: cp.kubeconfig, context: 'admin' });
  // Each store is one gateway replica's: its own informer, synced before use, stopped after.
  const stores: KubernetesApprovalStore[] = [];
  const newStore = async () => { const s = new KubernetesApprovalStore(gatewayClient(), NS); await s.start(); stores.push(s); return s; };
  const service = async (store?: KubernetesApprovalStore) => new ApprovalService(store ?? await newStore(), new AuditWriter({ stream: 'test', sink: (l) => audit.push(l) }), new Metrics());
  /** Until this replica's watch has delivered what kubectl already shows. */
  const sees = (store: KubernetesApprovalStore, name: string, phase: string) =>
    waitFor(`${name} ${phase} in the cache`, async () => (await store.get(NS, name))?.status?.phase === phase);
  after(async () => { await Promise.all(stores.map((s) => s.stop())); });

  it('creates the request as a custom resource with the policy\'s approvers copied into spec', async () => {
    const { request: r, created } = await (await service()).request({ policy: compiled, requester: { user: 'agent-user', groups: ['agents'], session: 's-9' }, statement, reasons: ['unmasked PATIENTS.SSN'], statementId: 'st-1' });
    assert.equal(created, true);
    const ar = await get(r.metadata.name);
    assert.deepEqual(ar.spec.approvers, [{ kind: 'Group', name: 'privacy-office' }]);
    assert.equal(ar.status?.phase, 'Pending');
    assert.equal(ar.metadata.annotations?.['phigate.io/policy-generation'], '4');
    // The same statement again reuses the waiting request.
    const again = await (await service()).request({ policy: compiled, requester: { user: 'agent-user', groups: ['agents'], session: 's-9' }, statement, reasons: ['unmasked PATIENTS.SSN'], statementId: 'st-2' });
    assert.deepEqual([again.created, again.request.metadata.name], [false, r.metadata.name]);
  });

  it('claims an approved request for exactly one execution, even with two gateways racing', async () => {
    const [storeA, storeB] = [await newStore(), await newStore()];
    const name = (await storeA.list()).find((r) => r.spec.statement.fingerprint === 'fp-1')!.metadata.name;
    assert.equal((await plugin('bob', ['approve', name, '--reason', 'ok'])).status, 0);
    await phaseIs(name, 'Approved');
    await Promise.all([sees(storeA, name, 'Approved'), sees(storeB, name, 'Approved')]);
    const [a, b] = [await service(storeA), await service(storeB)];
    const results = await Promise.allSettled([a.claim(NS, name, binding, 'st-a', 's-9'), b.claim(NS, name, binding, 'st-b', 's-9')]);
    const won = results.filter((r) => r.status === 'fulfilled');
    const lost = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    assert.equal(won.length, 1, 'exactly one gateway executes');
    assert.ok(lost[0]!.reason instanceof GatewayError);
    assert.equal(lost[0]!.reason.rule, 'approval_used');
    assert.equal((await get(name)).status?.phase, 'Executed');
    assert.ok(audit.some((l) => l.includes('"action":"executed"')));
  });

  it('turns a stale resourceVersion into ConflictError', async () => {
    const store = await newStore();
    await create('cas');
    const r = await waitFor('cas read', async () => { const x = await store.get(NS, 'cas'); return x?.status?.phase ? x : undefined; });
    await store.updateStatus({ ...r, status: { ...r.status, phase: 'Expired' } });
    await assert.rejects(store.updateStatus({ ...r, status: { ...r.status, phase: 'Expired' } }), ConflictError);
    await assert.rejects(store.get('other-ns', 'cas'), /keeps approvals in namespace team-a/);
  });
});
