// What `phigate demo` prints: tokens and requests a newcomer can paste.
import type { TokenIdentity } from '../gateway/tokenfile.ts';

export const DEMO_AGENT_TOKEN = 'phigate-demo-agent';
export const DEMO_REVIEWER_TOKEN = 'phigate-demo-reviewer';

export const DEMO_TOKENS = new Map<string, TokenIdentity>([
  [DEMO_AGENT_TOKEN, { user: 'demo-agent', uid: 'demo-agent', groups: ['agents'] }],
  [DEMO_REVIEWER_TOKEN, { user: 'demo-reviewer', uid: 'demo-reviewer', groups: ['privacy-office'] }],
]);

export function printDemoBanner(url: string): void {
  const curl = (sql: string) =>
    `curl -s ${url}/api/v2/statements -H 'Authorization: Bearer ${DEMO_AGENT_TOKEN}' -H 'Content-Type: application/json' \\\n    -d '{"statement": "${sql}"}'`;
  process.stderr.write(`
phigate demo is running on ${url} (synthetic data only; audit records stream on stdout)

  agent token:    ${DEMO_AGENT_TOKEN}      (user demo-agent)
  reviewer token: ${DEMO_REVIEWER_TOKEN}   (user demo-reviewer, group privacy-office)

Try:
  ${curl('SELECT patient_id, ssn, dob, zip, notes FROM patients ORDER BY patient_id LIMIT 3')}

  ${curl('SELECT state, COUNT(*) AS n FROM patients GROUP BY state ORDER BY n DESC LIMIT 5')}

  ${curl('DROP TABLE patients')}

MCP (coding agents): ${url}/mcp with the agent token as a bearer token (README: Agents over MCP)

Metrics: curl ${url}/metrics    Audit: pipe stdout to a file, then phigate audit verify FILE
`);
}
