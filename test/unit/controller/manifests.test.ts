// The install manifest (rendered from charts/phigate; test/integration/helm.test.ts keeps it
// current): the admission policy shaped as DESIGN.md says, and RBAC that lets the controller do
// (and grant) exactly what render() produces.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { accessSync, constants, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { ROOT } from '../../helpers/cli.ts';
import { render } from '../../../src/controller/accesspolicy/render.ts';

const docs = (path: string) => parseAllDocuments(readFileSync(path, 'utf8')).map((d) => d.toJS()).filter(Boolean) as any[];
const INSTALL_PATH = join(ROOT, 'manifests', 'install.yaml');
const install = () => docs(INSTALL_PATH);
const find = (kind: string, name: string) => install().find((d) => d.kind === kind && d.metadata.name === name);

describe('manifests/install.yaml', () => {
  it('applies in one pass: the namespace before anything in it', () => {
    const all = install();
    const nsAt = all.findIndex((d) => d.kind === 'Namespace' && d.metadata.name === 'phigate-system');
    assert.ok(nsAt >= 0);
    all.forEach((d, i) => { if (d.metadata.namespace === 'phigate-system') assert.ok(i > nsAt, `${d.kind} ${d.metadata.name} comes after its namespace`); });
    assert.deepEqual(all.filter((d) => d.kind === 'CustomResourceDefinition').map((d) => d.metadata.name).sort(), ['accesspolicies.phigate.io', 'approvalrequests.phigate.io']);
  });
});

describe('approval admission policy', () => {
  const vap = find('ValidatingAdmissionPolicy', 'phigate-approval-decisions');
  const binding = find('ValidatingAdmissionPolicyBinding', 'phigate-approval-decisions');

  it('checks every UPDATE of approvalrequests/status and denies (not just warns)', () => {
    assert.equal(vap.apiVersion, 'admissionregistration.k8s.io/v1');
    assert.equal(vap.spec.failurePolicy, 'Fail');
    assert.deepEqual(vap.spec.matchConstraints.resourceRules, [{ apiGroups: ['phigate.io'], apiVersions: ['*'], operations: ['UPDATE'], resources: ['approvalrequests/status'] }]);
    assert.equal(binding.spec.policyName, vap.metadata.name);
    assert.deepEqual(binding.spec.validationActions, ['Deny']);
  });

  it('states each rule of DESIGN.md, each with a message a person can act on', () => {
    const rules = vap.spec.validations.map((v: any) => v.expression).join('\n');
    for (const needle of [
      'variables.decidedBy == variables.user',                    // decidedBy is the authenticated user
      'object.spec.requester.user != variables.user',            // never the requester
      'variables.isApprover',                                     // a listed approver (users or groups)
      'variables.newReviews.all(r, r.user == variables.user)',   // reviews only as yourself
      "variables.oldPhase == 'Pending'",                         // decisions only while pending
    ]) assert.ok(rules.includes(needle), needle);
    assert.match(vap.spec.variables.find((v: any) => v.name === 'isApprover').expression, /a\.kind == 'User' && a\.name == variables\.user\) \|\| \(a\.kind == 'Group' && a\.name in variables\.groups/);
    for (const v of vap.spec.validations) assert.ok(v.message || v.messageExpression, v.expression);
  });

});

describe('RBAC', () => {
  type Rule = { apiGroups: string[]; resources: string[]; verbs: string[]; resourceNames?: string[] };
  const allows = (rules: Rule[], group: string, resource: string, verb: string) =>
    rules.some((r) => r.apiGroups.includes(group) && r.resources.includes(resource) && r.verbs.includes(verb) && !r.resourceNames);

  it('phigate-approver reads requests and patches their status, nothing more', () => {
    const role = find('ClusterRole', 'phigate-approver');
    assert.deepEqual(role.rules, [
      { apiGroups: ['phigate.io'], resources: ['approvalrequests'], verbs: ['get', 'list', 'watch'] },
      { apiGroups: ['phigate.io'], resources: ['approvalrequests/status'], verbs: ['get', 'patch'] },
    ]);
  });

  it('the controller holds every permission of the gateway Role it creates (RBAC forbids granting more)', () => {
    const controller: Rule[] = find('ClusterRole', 'phigate-controller').rules;
    const gatewayRole = render('x', [{ apiVersion: 'phigate.io/v1alpha1', kind: 'AccessPolicy', metadata: { name: 'p', uid: 'u' }, spec: {} as any }], { image: 'i', replicas: 1, version: 'v' })
      .namespaced.find((o) => o.kind === 'Role') as unknown as { rules: Rule[] };
    for (const r of gatewayRole.rules) for (const g of r.apiGroups) for (const res of r.resources) for (const v of r.verbs) {
      assert.ok(allows(controller, g, res, v), `controller may ${v} ${res} (${g || 'core'})`);
    }
  });

  it('the controller may write and delete every kind it renders, and bind only the TokenReview role', () => {
    const controller: Rule[] = find('ClusterRole', 'phigate-controller').rules;
    for (const [g, res] of [['apps', 'deployments'], ['', 'services'], ['', 'configmaps'], ['', 'serviceaccounts'], ['rbac.authorization.k8s.io', 'roles'], ['rbac.authorization.k8s.io', 'rolebindings'], ['rbac.authorization.k8s.io', 'clusterrolebindings']] as const) {
      for (const v of ['get', 'list', 'create', 'patch', 'delete']) assert.ok(allows(controller, g, res, v), `${v} ${res}`);
    }
    const bind = controller.filter((r) => r.verbs.includes('bind'));
    assert.deepEqual(bind.map((r) => r.resourceNames), [['phigate-gateway-tokenreview']]);
    assert.ok(find('ClusterRole', 'phigate-gateway-tokenreview'));
  });
});

describe('kubectl plugin', () => {
  it('is an executable node script named kubectl-phigate and listed in package.json bin', () => {
    const path = join(ROOT, 'bin', 'kubectl-phigate');
    accessSync(path, constants.X_OK);
    assert.match(readFileSync(path, 'utf8'), /^#!\/usr\/bin\/env node\n/);
    assert.equal(JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).bin['kubectl-phigate'], 'bin/kubectl-phigate');
  });
});
