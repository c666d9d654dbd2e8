// `phigate` command line. Subcommands are thin: they parse options and call into the modules.
import { Command, InvalidArgumentError } from 'commander';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { startGateway } from '../gateway/server.ts';
import { createLogger } from './log.ts';
import { verifyAuditLog } from '../audit/verify.ts';
import { listSessions, replaySession } from '../audit/replay.ts';
import { DEMO_TOKENS, printDemoBanner } from './demo.ts';
import { addMcpCommand } from './mcp.ts';
import { addApprovalCommands } from './approvals.ts';
import { addControllerCommand } from './controller.ts';
import { addGatewayCommand } from './gateway.ts';

const port = (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new InvalidArgumentError('must be a port number (0-65535)');
  return n;
};
const collect = (v: string, prev: string[]) => [...prev, v];

async function readInput(file: string): Promise<string> {
  if (file === '-') {
    const chunks: Buffer[] = [];
    for await (const c of process.stdin) chunks.push(c as Buffer);
    return Buffer.concat(chunks).toString('utf8');
  }
  return readFile(file, 'utf8');
}

export function buildProgram(): Command {
  const program = new Command('phigate')
    .description('Policy-enforcing gateway between AI agents and data warehouses holding PHI.\nAudit records go to stdout as JSON lines; operational logs go to stderr.')
    .showHelpAfterError('(run with --help for usage)');

  const serveOptions = (c: Command) => c
    .option('--port <port>', 'port to listen on (0 picks a free one)', port, 8080)
    .option('--host <host>', 'address to listen on', '127.0.0.1')
    .option('--cache-dir <dir>', 'where the demo dataset is cached (default $PHIGATE_CACHE_DIR or ~/.cache/phigate)')
    .option('--log-format <format>', 'operational log format on stderr: text or json', 'text');

  serveOptions(program.command('serve')
    .description('Run the gateway standalone on AccessPolicy and Secret YAML from files or folders.')
    .requiredOption('-f, --filename <path>', 'YAML file or folder with AccessPolicy and Secret objects (repeatable)', collect, [])
    .option('--token-auth-file <file>', 'agent and approver tokens, kube-apiserver CSV format: token,user,uid,"group1,group2"'))
    .action(async (o) => {
      const log = createLogger(o.logFormat);
      await runGateway({ files: o.filename, port: o.port, host: o.host, tokenAuthFile: o.tokenAuthFile, cacheDir: o.cacheDir, log });
    });

  serveOptions(program.command('demo')
    .description('Run the gateway on the bundled synthetic dataset with an example policy and print tokens and example requests.'))
    .action(async (o) => {
      const log = createLogger(o.logFormat);
      const policy = fileURLToPath(new URL('../../manifests/examples/demo-policy.yaml', import.meta.url));
      const gw = await runGateway({ files: [policy], port: o.port, host: o.host, tokens: DEMO_TOKENS, cacheDir: o.cacheDir, log });
      if (gw) printDemoBanner(gw.url);
    });

  addApprovalCommands(program);

  addMcpCommand(program);

  addControllerCommand(program);
  addGatewayCommand(program);

  const audit = program.command('audit').description('Check and read audit logs (JSON lines, e.g. from kubectl logs).');
  audit.command('verify')
    .description('Verify every stream\'s hash chain; exit 1 and name the first broken record if a line was edited, removed or reordered.')
    .argument('<file>', 'audit log file, or - for stdin')
    .option('--allow-truncated-start', 'accept streams whose first record is not seq 0 (rotated logs); a removed first record then goes unnoticed')
    .action(async (file: string, o: { allowTruncatedStart?: boolean }) => {
      const r = verifyAuditLog(await readInput(file), { allowTruncatedStart: !!o.allowTruncatedStart });
      if (r.records === 0) { console.error(`no phigate audit records in ${file}`); process.exitCode = 1; return; }
      if (!r.ok) {
        const b = r.firstBreak!;
        console.error(`BROKEN at line ${b.line}${b.stream ? ` (stream ${b.stream}, seq ${b.seq})` : ''}: ${b.problem}`);
        process.exitCode = 1;
        return;
      }
      console.log(`ok: ${r.records} records in ${r.streams} stream(s) verified`);
      for (const s of r.perStream) {
        console.log(`  ${s.stream}: seq ${s.firstSeq}..${s.lastSeq}, head ${s.head}${s.truncatedStart ? ' (log starts mid-stream)' : ''}`);
      }
    });
  audit.command('replay')
    .description('Print what an agent sent and what it saw, in order. Without --session, list the sessions.')
    .argument('<file>', 'audit log file, or - for stdin')
    .option('--session <id>', 'the session to replay')
    .action(async (file: string, o: { session?: string }) => {
      const text = await readInput(file);
      if (!o.session) {
        const sessions = listSessions(text);
        if (sessions.length === 0) { console.error(`no sessions in ${file}`); process.exitCode = 1; return; }
        for (const s of sessions) console.log(JSON.stringify(s));
        return;
      }
      const lines = replaySession(text, o.session);
      if (lines.length === 0) { console.error(`no records for session ${o.session} in ${file}`); process.exitCode = 1; return; }
      for (const l of lines) console.log(l);
    });
  return program;
}

async function runGateway(opts: Parameters<typeof startGateway>[0]) {
  let gw;
  try {
    gw = await startGateway(opts);
    await gw.loaded;
  } catch (e) {
    opts.log.error(e instanceof Error ? e.message : String(e));
    await gw?.close().catch(() => {});
    // Let winston flush stderr before exiting.
    process.exitCode = 1;
    setTimeout(() => process.exit(1), 100).unref();
    return null;
  }
  const stop = (sig: string) => {
    opts.log.info(`${sig}: shutting down`);
    gw.close().finally(() => process.exit(0));
    setTimeout(() => process.exit(0), 5000).unref();
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
  return gw;
}

export async function main(argv: string[]): Promise<void> {
  // `phigate audit replay ... | head` closes the pipe early: that is not an error.
  process.stdout.on('error', (e: NodeJS.ErrnoException) => { if (e.code === 'EPIPE') process.exit(0); throw e; });
  await buildProgram().parseAsync(argv);
}
