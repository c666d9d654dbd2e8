import { join } from 'node:path';
import { ROOT } from '../helpers/cli.ts';
// The AccessPolicy controller against a real kube-apiserver + etcd, driven with the real
// kubectl: a policy gets a gateway with ownerReferences and status; edits and Secrets are
// followed; the last policy's deletion removes the gateway (no garbage collector runs here);
// a second replica waits, takes over when the leader dies, and picks up what changed meanwhile.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startControlPlane, waitFor, type ControlPlane } from '../helpers/controlplane.ts';
import { installOperator, metricValue, startController, type ControllerProcess } from '../helpers/operator.ts';

const policy = (name: string, ns: string, extra = '') => `apiVersion: phigate.io/v1alpha1
kind: AccessPolicy
metadata: { name: ${name}, namespace: ${ns} }
spec:
  warehouse: { type: duckdb, duckdb: { path: ":demo:" } }
  subjects: [ { kind: ServiceAccount, name: coding-agent, namespace: ${ns} } ]
  access: { statements: [SELECT], tables: [ { name: PATIENTS, columns: ["*"] } ], maxRows: 10 }
${extra}`;

let cp: ControlPlane;
let ctl: ControllerProcess;
let standby: ControllerProcess | undefined;

const getJson = async (args: string[]) => JSON.parse(await cp.kubectlOk([...args, '-o', 'json']));
const managed = async (ns: string) => (await cp.kubectlOk(['get', 'deployments,services,configmaps,serviceaccounts,roles,rolebindings', '-n', ns, '-l', 'app.kubernetes.io/managed-by=phigate-controller', '-o', 'name'])).trim().split('\n').filter(Boolean).sort();
const condition = (p: any, type: string) => p.status?.conditions?.find((c: any) => c.type === type);
const policyWhen = (ns: string, name: string, what: string, ok: (p: any) => boolean, timeoutMs = 20_000) =>
  waitFor(`${ns}/${name}: ${what}`, async () => { const p = await getJson(['get', 'accesspolicy', name, '-n', ns]); return ok(p) ? p : undefined; }, timeoutMs);

before(async () => {
  cp = await startControlPlane();
  await installOperator(cp);
  for (const ns of ['team-a', 'team-b', 'team-c']) await cp.kubectlOk(['create', 'namespace', ns]);
  // A resync far longer than the tests: what they see arrives through watches.
  ctl = await startController(cp, ['--resync-period', '1h']);
  await ctl.waitForLog(/is the leader/);
});

after(async () => {
  await standby?.stop('SIGKILL');
  await ctl?.stop('SIGKILL');
  await cp?.stop();
});

describe('manifests/examples', () => {
  it('every example is accepted by the real API server (policies, secrets, agent RBAC, approver binding, approval request)', async () => {
    const out = await cp.kubectlOk(['apply', '--dry-run=server', '-f', join(ROOT, 'manifests', 'examples')]);
    for (const what of ['accesspolicy.phigate.io/claims-analytics', 'serviceaccount/coding-agent', 'role.rbac.authorization.k8s.io/phigate-agent',
      'rolebinding.rbac.authorization.k8s.io/privacy-office-approvers', 'approvalrequest.phigate.io/claims-analytics-7f3a9c']) {
      assert.match(out, new RegExp(what.replaceAll('.', '\\.')), what);
    }
  });
});

describe('AccessPolicy controller', () => {
  it('gives an applied policy a gateway whose objects it owns, and reports status', async () => {
    await cp.kubectlOk(['apply', '-f', '-'], { input: policy('claims', 'team-a') });
    await waitFor('gateway Deployment', async () => (await cp.kubectl(['get', 'deployment', 'phigate-gateway', '-n', 'team-a'])).status === 0);
    // Whoever sees the Deployment appear finds the status that explains it already written.
    const p = await getJson(['get', 'accesspolicy', 'claims', '-n', 'team-a']);
    assert.equal(p.status?.observedGeneration, 1);
    assert.deepEqual(await managed('team-a'), [
      'configmap/phigate-gateway', 'deployment.apps/phigate-gateway', 'role.rbac.authorization.k8s.io/phigate-gateway',
      'rolebinding.rbac.authorization.k8s.io/phigate-gateway', 'service/phigate-gateway', 'serviceaccount/phigate-gateway',
    ]);
    const dep = await getJson(['get', 'deployment', 'phigate-gateway', '-n', 'team-a']);
    assert.deepEqual(dep.metadata.ownerReferences, [{ apiVersion: 'phigate.io/v1alpha1', kind: 'AccessPolicy', name: 'claims', uid: p.metadata.uid }]);
    assert.equal(dep.metadata.labels['app.kubernetes.io/managed-by'], 'phigate-controller');
    assert.equal(dep.spec.template.spec.serviceAccountName, 'phigate-gateway');
    const crb = await getJson(['get', 'clusterrolebinding', 'phigate-gateway-team-a']);
    assert.equal(crb.roleRef.name, 'phigate-gateway-tokenreview');

    assert.deepEqual([condition(p, 'Valid').status, condition(p, 'Valid').reason], ['True', 'Valid']);
    assert.deepEqual([condition(p, 'Ready').status, condition(p, 'Ready').reason], ['False', 'GatewayUnavailable'], 'no kubelet here: no replica is ever available');
    assert.equal(p.status.gateway.service, 'phigate-gateway.team-a.svc:8443');
    const events = await cp.kubectlOk(['get', 'events', '-n', 'team-a', '--field-selector', 'involvedObject.name=claims', '-o', 'jsonpath={.items[*].reason}']);
    assert.match(events, /GatewayCreated/);
    // kubectl's printer columns read the status.
    assert.match(await cp.kubectlOk(['get', 'accesspolicy', 'claims', '-n', 'team-a']), /claims\s+duckdb\s+False/);
  });

  it('turns Ready when the gateway Deployment has an available replica', async () => {
    await cp.kubectlOk(['patch', 'deployment', 'phigate-gateway', '-n', 'team-a', '--subresource=status', '--type=merge', '-p', '{"status":{"replicas":1,"readyReplicas":1,"availableReplicas":1}}']);
    const p = await policyWhen('team-a', 'claims', 'Ready', (p) => condition(p, 'Ready')?.status === 'True');
    assert.equal(condition(p, 'Ready').reason, 'GatewayAvailable');
    assert.match(condition(p, 'Ready').message, /phigate-gateway\.team-a\.svc:8443: 1 of 1 replicas available/);
  });

  it('follows an edit: observedGeneration moves, an invalid policy says why and what to do', async () => {
    // A hash rule needs a key Secret that does not exist yet.
    await cp.kubectlOk(['apply', '-f', '-'], { input: policy('claims', 'team-a', '  masking: { rules: [ { columns: [PATIENTS.MRN], strategy: hash } ], hashKeySecretRef: { name: hash-key } }\n') });
    const p = await policyWhen('team-a', 'claims', 'generation 2 observed', (p) => p.status?.observedGeneration === 2);
    assert.deepEqual([condition(p, 'Valid').status, condition(p, 'Valid').reason], ['False', 'SecretNotFound']);
    assert.match(condition(p, 'Valid').message, /Secret team-a\/hash-key .* create it with key hashKey/);
    assert.deepEqual([condition(p, 'Ready').status, condition(p, 'Ready').reason], ['False', 'InvalidPolicy']);
    assert.equal(condition(p, 'Valid').observedGeneration, 2);
    const warnings = await cp.kubectlOk(['get', 'events', '-n', 'team-a', '--field-selector', 'involvedObject.name=claims,type=Warning', '-o', 'jsonpath={.items[*].reason}']);
    assert.match(warnings, /SecretNotFound/);

    // The Secret appears: the controller's (metadata-only) Secret watch brings the policy back
    // without any edit of it, long before the hourly resync.
    await cp.kubectlOk(['create', 'secret', 'generic', 'hash-key', '-n', 'team-a', '--from-literal=hashKey=0123456789abcdef0123456789abcdef']);
    const fixed = await policyWhen('team-a', 'claims', 'Valid again', (p) => condition(p, 'Valid')?.status === 'True');
    assert.equal(condition(fixed, 'Ready').status, 'True');
  });

  it('serves several policies of a namespace with one gateway owned by all of them', async () => {
    await cp.kubectlOk(['apply', '-f', '-'], { input: policy('research', 'team-a') });
    await policyWhen('team-a', 'research', 'status', (p) => p.status?.observedGeneration === 1);
    const dep = await waitFor('two owners', async () => {
      const d = await getJson(['get', 'deployment', 'phigate-gateway', '-n', 'team-a']);
      return d.metadata.ownerReferences.length === 2 ? d : undefined;
    });
    assert.deepEqual(dep.metadata.ownerReferences.map((r: any) => r.name), ['claims', 'research']);
    assert.equal((await cp.kubectlOk(['get', 'deployments', '-n', 'team-a', '-o', 'name'])).trim().split('\n').length, 1);
    const cm = await getJson(['get', 'configmap', 'phigate-gateway', '-n', 'team-a']);
    assert.match(cm.data['gateway.yaml'], /policies: \[claims, research\]/);

    // One of two removed: the gateway stays, owned by the other.
    await cp.kubectlOk(['delete', 'accesspolicy', 'research', '-n', 'team-a']);
    await waitFor('one owner left', async () => {
      const d = await getJson(['get', 'deployment', 'phigate-gateway', '-n', 'team-a']);
      return d.metadata.ownerReferences.length === 1 && d.metadata.ownerReferences[0].name === 'claims';
    });
  });

  it('puts back what a person deleted by hand', async () => {
    await cp.kubectlOk(['delete', 'deployment', 'phigate-gateway', '-n', 'team-a']);
    await waitFor('deployment recreated', async () => (await cp.kubectl(['get', 'deployment', 'phigate-gateway', '-n', 'team-a'])).status === 0);
  });

  it('removes the gateway itself when the last policy goes', async () => {
    await cp.kubectlOk(['delete', 'accesspolicy', 'claims', '-n', 'team-a', '--wait=false']);
    await waitFor('gateway objects deleted', async () => (await managed('team-a')).length === 0);
    assert.notEqual((await cp.kubectl(['get', 'clusterrolebinding', 'phigate-gateway-team-a'])).status, 0, 'the cluster-scoped binding goes too');
    assert.match(ctl.logs(), /gateway in team-a removed \(no AccessPolicy left\)/);
  });

  it('exports controller-runtime metrics', async () => {
    const text = await ctl.metrics();
    assert.ok((metricValue(text, 'controller_runtime_reconcile_total', { controller: 'accesspolicy', result: 'success' }) ?? 0) > 0, 'reconciles counted');
    assert.ok(text.includes('controller_runtime_reconcile_time_seconds_bucket{le="0.005",controller="accesspolicy"}'));
    assert.equal(metricValue(text, 'workqueue_depth', { name: 'accesspolicy' }), 0);
    assert.equal(metricValue(text, 'leader_election_master_status', { name: 'phigate-controller' }), 1);
    assert.ok(metricValue(text, 'workqueue_adds_total', { name: 'approvalrequest' }) !== undefined || text.includes('workqueue_adds_total'));
  });
});

describe('leader election', () => {
  it('keeps a second replica waiting while the leader acts', async () => {
    standby = await startController(cp, ['--resync-period', '1h']);
    await standby.waitForLog(/waiting for lease phigate-system\/phigate-controller/);
    await cp.kubectlOk(['apply', '-f', '-'], { input: policy('b1', 'team-b') });
    await policyWhen('team-b', 'b1', 'status from the leader', (p) => p.status?.observedGeneration === 1);
    const s = await standby.metrics();
    assert.equal(metricValue(s, 'leader_election_master_status', { name: 'phigate-controller' }), 0);
    assert.equal(metricValue(s, 'controller_runtime_reconcile_total'), undefined, 'the standby reconciled nothing');
    assert.doesNotMatch(standby.logs(), /is the leader/);
    const standbyId = /leader election: (\S+) waiting/.exec(standby.logs())![1];
    const lease = await getJson(['get', 'lease', 'phigate-controller', '-n', 'phigate-system']);
    assert.ok(lease.spec.holderIdentity && lease.spec.holderIdentity !== standbyId, 'the lease names the first replica');
  });

  it('hands over when the leader dies, and the new leader catches up on what changed meanwhile', async () => {
    const before = await getJson(['get', 'lease', 'phigate-controller', '-n', 'phigate-system']);
    await ctl.stop('SIGKILL'); // a crash: the lease is not released, the standby must wait it out
    // Changes while nobody leads.
    await cp.kubectlOk(['apply', '-f', '-'], { input: policy('c1', 'team-c') });
    await cp.kubectlOk(['delete', 'accesspolicy', 'b1', '-n', 'team-b', '--wait=false']);
    await standby!.waitForLog(/is the leader/, 20_000);
    const lease = await getJson(['get', 'lease', 'phigate-controller', '-n', 'phigate-system']);
    assert.notEqual(lease.spec.holderIdentity, before.spec.holderIdentity);
    assert.equal(lease.spec.leaseTransitions, (before.spec.leaseTransitions ?? 0) + 1);
    await policyWhen('team-c', 'c1', 'reconciled by the new leader', (p) => p.status?.observedGeneration === 1);
    await waitFor('team-b gateway removed by the new leader', async () => (await managed('team-b')).length === 0);
  });

  it('releases the lease on a clean shutdown so a successor starts at once', async () => {
    const next = await startController(cp);
    try {
      await next.waitForLog(/waiting for lease/);
      const t0 = Date.now();
      await standby!.stop('SIGTERM');
      assert.match(standby!.logs(), /released the lease/);
      await next.waitForLog(/is the leader/, 10_000);
      assert.ok(Date.now() - t0 < 3000 + 2000, 'took over without waiting out the lease duration');
      // And it acts: a new policy is reconciled.
      await cp.kubectlOk(['apply', '-f', '-'], { input: policy('c2', 'team-c') });
      await policyWhen('team-c', 'c2', 'reconciled', (p) => p.status?.observedGeneration === 1);
    } finally {
      await next.stop('SIGKILL');
    }
  });
});
