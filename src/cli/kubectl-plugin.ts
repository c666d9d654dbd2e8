// `kubectl phigate approve|deny NAME [-n NS] --reason TEXT`: the reviewer's side of an
// ApprovalRequest in a cluster. It asks the API server who you are (SelfSubjectReview), adds
// your review and, when one decision settles it, the decision with decidedBy = you, as one
// merge patch of the status subresource guarded by the resourceVersion it read. The API
// server (the ValidatingAdmissionPolicy phigate-approval-decisions) decides whether you may;
// this command only says what it answered.
//
// kubectl hands a plugin its arguments after the plugin name, so --context, --kubeconfig and
// -n go after it: `kubectl phigate approve NAME -n team-a --context bob --reason "..."`.
import { Command } from 'commander';
import type { ApprovalDecision, ApprovalRequest } from '../api/types.ts';
import { ApiError, isConflict, KubeClient } from '../kube/client.ts';
import { rfc3339 } from '../kube/conditions.ts';

const AR = { group: 'phigate.io', version: 'v1alpha1', plural: 'approvalrequests' };

async function whoAmI(client: KubeClient): Promise<{ username: string; groups: string[] }> {
  const r = await client.create<{ status?: { userInfo?: { username?: string; groups?: string[] } } }>(
    { group: 'authentication.k8s.io', version: 'v1', plural: 'selfsubjectreviews' },
    { apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview' },
  );
  const username = r.status?.userInfo?.username;
  if (!username) throw new Error('the API server did not say who you are (SelfSubjectReview returned no username)');
  return { username, groups: r.status?.userInfo?.groups ?? [] };
}

export async function decide(client: KubeClient, namespace: string, name: string, decision: ApprovalDecision, reason: string, now = () => new Date()): Promise<string> {
  const { username } = await whoAmI(client);
  const ref = { ...AR, namespace, name };
  for (let attempt = 0; attempt < 5; attempt++) {
    const req = await client.get<ApprovalRequest>(ref);
    const reviews = req.status?.reviews ?? [];
    if (reviews.some((r) => r.user === username)) throw new Error(`you (${username}) have already reviewed ${namespace}/${name}`);
    const need = req.spec.requiredApprovals ?? 1;
    const status: Record<string, unknown> = { reviews: [...reviews, { user: username, decision, reason, at: rfc3339(now()) }] };
    // One decision settles it when one approval is enough, or when it is a denial.
    if (decision === 'Denied' || need <= 1) Object.assign(status, { decision, decidedBy: username, reason });
    try {
      await client.mergePatch({ ...ref, subresource: 'status' }, { metadata: { resourceVersion: req.metadata.resourceVersion }, status });
    } catch (e) {
      if (isConflict(e) && (e as ApiError).reason === 'Conflict') continue; // changed since read: read again
      throw e;
    }
    const approvals = reviews.filter((r) => r.decision === 'Approved').length + (decision === 'Approved' ? 1 : 0);
    return decision === 'Denied'
      ? `approvalrequest ${namespace}/${name} denied by ${username}`
      : `approvalrequest ${namespace}/${name} approved by ${username} (${Math.min(approvals, need)} of ${need} approval${need === 1 ? '' : 's'})`;
  }
  throw new Error(`${namespace}/${name} kept changing while being reviewed; try again`);
}

export function buildPluginProgram(): Command {
  const program = new Command('kubectl phigate')
    .description('Review phigate ApprovalRequests. Your username comes from the API server; it decides whether you may.')
    .showHelpAfterError('(run with --help for usage)');
  for (const [verb, decision] of [['approve', 'Approved'], ['deny', 'Denied']] as const) {
    program.command(verb)
      .description(`${decision === 'Approved' ? 'Approve' : 'Deny'} an ApprovalRequest as yourself`)
      .argument('<name>', 'the ApprovalRequest')
      .option('-n, --namespace <namespace>', 'its namespace (default: the context\'s)')
      .requiredOption('--reason <text>', 'why (recorded in the request and the audit log)')
      .option('--context <name>', 'kubeconfig context')
      .option('--kubeconfig <file>', 'kubeconfig file (default $KUBECONFIG or ~/.kube/config)')
      .action(async (name: string, o: { namespace?: string; reason: string; context?: string; kubeconfig?: string }) => {
        try {
          const client = KubeClient.fromEnvironment({ context: o.context, kubeconfig: o.kubeconfig });
          console.log(await decide(client, o.namespace ?? client.defaultNamespace, name, decision, o.reason));
        } catch (e) {
          const msg = e instanceof ApiError ? `Error from server (${e.reason}): ${e.message}` : `error: ${e instanceof Error ? e.message : String(e)}`;
          console.error(msg);
          process.exitCode = 1;
        }
      });
  }
  return program;
}

export async function main(argv: string[]): Promise<void> {
  await buildPluginProgram().parseAsync(argv);
}
