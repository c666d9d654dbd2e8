// How a request to the API server is named in phigate_kube_api_requests_total: the verb and
// resource an audit log would show.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { describeRequest } from '../../../src/kube/client.ts';

describe('describeRequest', () => {
  const cases: [string, string, boolean, string, string][] = [
    ['GET', '/apis/phigate.io/v1alpha1/namespaces/team-a/approvalrequests/x', false, 'get', 'approvalrequests'],
    ['GET', '/apis/phigate.io/v1alpha1/namespaces/team-a/approvalrequests', false, 'list', 'approvalrequests'],
    ['GET', '/apis/phigate.io/v1alpha1/namespaces/team-a/approvalrequests', true, 'watch', 'approvalrequests'],
    ['PUT', '/apis/phigate.io/v1alpha1/namespaces/team-a/approvalrequests/x/status', false, 'update', 'approvalrequests/status'],
    ['POST', '/apis/authentication.k8s.io/v1/tokenreviews', false, 'create', 'tokenreviews'],
    ['PATCH', '/apis/phigate.io/v1alpha1/namespaces/team-a/accesspolicies/claims/status', false, 'patch', 'accesspolicies/status'],
    ['GET', '/api/v1/namespaces/team-a/secrets', false, 'list', 'secrets'],
    ['GET', '/api/v1/namespaces/team-a', false, 'get', 'namespaces'],
    ['GET', '/api/v1/namespaces', false, 'list', 'namespaces'],
    ['DELETE', '/api/v1/namespaces/team-a/configmaps/c', false, 'delete', 'configmaps'],
  ];
  for (const [method, path, watch, verb, resource] of cases) {
    it(`${method}${watch ? ' (watch)' : ''} ${path} is ${verb} ${resource}`, () => {
      assert.deepEqual(describeRequest(method, path, watch), { verb, resource });
    });
  }
});
