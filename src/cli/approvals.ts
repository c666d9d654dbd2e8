// `phigate approve|deny NAME` and `phigate approvals list`: a reviewer's client of the
// standalone gateway's approvals endpoint, authenticated with the reviewer's own token.
import type { Command } from 'commander';
import type { ApprovalRequest } from '../api/types.ts';

interface ClientOptions { server: string; token?: string }

async function call(o: ClientOptions, path: string, init: RequestInit = {}): Promise<any> {
  const token = o.token ?? process.env.PHIGATE_TOKEN;
  if (!token) throw new Error('no token: pass --token T (your own reviewer token) or set PHIGATE_TOKEN');
  let res: Response;
  try {
    res = await fetch(new URL(path, o.server), { ...init, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' } });
  } catch (e) {
    throw new Error(`cannot reach the gateway at ${o.server}: ${(e as Error).cause ?? (e as Error).message}`);
  }
  const text = await res.text();
  let body: any = null;
  try { body = JSON.parse(text); } catch { /* not JSON */ }
  if (!res.ok) throw new Error(`${res.status} ${body?.message ?? text.slice(0, 300)}`);
  return body;
}

const clientOptions = (c: Command) => c
  .option('--server <url>', 'gateway URL', process.env.PHIGATE_SERVER ?? 'http://127.0.0.1:8080')
  .option('--token <token>', 'your own bearer token (default $PHIGATE_TOKEN)');

function summary(a: ApprovalRequest): string {
  const reviews = a.status?.reviews ?? [];
  return [
    `${a.metadata.namespace}/${a.metadata.name}  ${a.status?.phase ?? 'Pending'}  policy ${a.spec.policyRef.name}  requester ${a.spec.requester.user}  expires ${a.spec.expiresAt}`,
    `  reasons: ${a.spec.reasons.join('; ')}`,
    ...(a.spec.justification ? [`  justification: ${a.spec.justification}`] : []),
    `  statement: ${a.spec.statement.sql}`,
    `  approvals: ${reviews.filter((r) => r.decision === 'Approved').length}/${a.spec.requiredApprovals}${reviews.map((r) => `  [${r.user}: ${r.decision}${r.reason ? ` "${r.reason}"` : ''}]`).join('')}`,
  ].join('\n');
}

export function addApprovalCommands(program: Command): void {
  for (const [verb, decision] of [['approve', 'Approved'], ['deny', 'Denied']] as const) {
    clientOptions(program.command(verb)
      .description(`${decision === 'Approved' ? 'Approve' : 'Deny'} a pending approval request as yourself (you must be one of its approvers, not its requester).`)
      .argument('<name>', 'approval request name, or namespace/name')
      .requiredOption('--reason <text>', 'why (recorded in the request and the audit log)'))
      .action(async (name: string, o: ClientOptions & { reason: string }) => {
        try {
          const path = `/api/v1/approvals/${name.split('/').map(encodeURIComponent).join('/')}/review`;
          const a = await call(o, path, { method: 'POST', body: JSON.stringify({ decision, reason: o.reason }) });
          console.log(summary(a));
        } catch (e) {
          console.error(`phigate ${verb}: ${(e as Error).message}`);
          process.exitCode = 1;
        }
      });
  }
  const approvals = program.command('approvals').description('Approval requests you asked for or may review.');
  clientOptions(approvals.command('list').description('List approval requests you requested or may review.'))
    .action(async (o: ClientOptions) => {
      try {
        const { items } = await call(o, '/api/v1/approvals');
        if (items.length === 0) console.log('no approval requests');
        for (const a of items) console.log(summary(a));
      } catch (e) {
        console.error(`phigate approvals list: ${(e as Error).message}`);
        process.exitCode = 1;
      }
    });
}
