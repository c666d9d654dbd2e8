// `phigate mcp --server URL --token T`: the stdio bridge for agents that only launch stdio MCP
// servers. stdout carries MCP messages only; logs go to stderr.
import type { Command } from 'commander';
import { createLogger } from './log.ts';
import { runStdioBridge } from '../gateway/mcp-bridge.ts';

export function addMcpCommand(program: Command): void {
  program.command('mcp')
    .description('Serve MCP over stdio for agents that only launch stdio servers. Every tool call is forwarded to a phigate gateway\'s /mcp endpoint with your token; the bridge holds no warehouse credentials. stdout is the MCP channel; logs go to stderr.')
    .option('--server <url>', 'gateway URL, e.g. http://127.0.0.1:8080 (its /mcp endpoint is used); default $PHIGATE_SERVER', process.env.PHIGATE_SERVER)
    .option('--token <token>', 'your bearer token (default $PHIGATE_TOKEN, which keeps it out of process listings)')
    .option('--log-format <format>', 'log format on stderr: text or json', 'text')
    .action(async (o: { server?: string; token?: string; logFormat: 'text' | 'json' }) => {
      const log = createLogger(o.logFormat);
      const token = o.token ?? process.env.PHIGATE_TOKEN;
      let problem: string | null = null;
      if (!o.server) problem = 'no gateway: pass --server URL (or set PHIGATE_SERVER)';
      else if (!token) problem = 'no token: pass --token T (or set PHIGATE_TOKEN)';
      else {
        try { new URL(o.server); } catch { problem = `--server ${o.server} is not a URL: pass e.g. http://127.0.0.1:8080`; }
      }
      if (problem) {
        log.error(`phigate mcp: ${problem}`);
        process.exitCode = 1;
        setTimeout(() => process.exit(1), 100).unref();
        return;
      }
      await runStdioBridge({ server: o.server!, token: token!, log });
      setTimeout(() => process.exit(0), 100).unref();
    });
}
