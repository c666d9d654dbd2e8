// `phigate gateway`: the gateway in a cluster, started by the Deployment the controller
// renders. Its namespace's AccessPolicies and Secrets come from the API server (watched, no
// restart on change), agents authenticate with TokenReview or an OIDC JWT, approvals are
// ApprovalRequests.
import { InvalidArgumentError, type Command } from 'commander';
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { KubeClient } from '../kube/client.ts';
import { startClusterGateway } from '../gateway/cluster.ts';
import { OIDC_DEFAULTS, OIDC_FIELDS, validateOidcOptions, type OidcField, type OidcOptions } from '../gateway/oidc-config.ts';
import { GATEWAY_AUDIENCE, GATEWAY_PORT } from '../controller/accesspolicy/render.ts';
import { createLogger } from './log.ts';

const port = (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new InvalidArgumentError('must be a port number (0-65535)');
  return n;
};

/** The ConfigMap's gateway.yaml (see controller/accesspolicy/render.ts); flags override it. */
interface GatewayConfig { namespace?: string; listen?: { port?: number }; auth?: { tokenReview?: { audience?: string }; oidc?: Record<string, unknown> } }

/**
 * --oidc-issuer-url ... for each OIDC setting (commander's option key is oidcIssuerUrl); the CA
 * bundle is given as a file (--oidc-ca-file), never as PEM text on a command line.
 */
const oidcFlag = (f: OidcField) => (f === 'caBundle' ? '--oidc-ca-file' : `--oidc-${f.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`);
const oidcKey = (f: OidcField) => `oidc${f[0]!.toUpperCase()}${f.slice(1)}`;

/**
 * OIDC settings from gateway.yaml's auth.oidc, each overridden by its flag; undefined when
 * neither names any. Invalid settings throw, naming the flag and the config key to fix.
 */
export function oidcSettings(config: GatewayConfig, flags: Record<string, unknown>): OidcOptions | undefined {
  const fromConfig = config.auth?.oidc ?? {};
  if (typeof fromConfig !== 'object' || Array.isArray(fromConfig)) throw new Error('OIDC settings: auth.oidc in --config must be a mapping (issuerUrl, audience, ...)');
  const raw: Record<string, unknown> = { ...fromConfig };
  for (const f of OIDC_FIELDS) if (f !== 'caBundle' && flags[oidcKey(f)] !== undefined) raw[f] = flags[oidcKey(f)];
  if (typeof flags.oidcCaFile === 'string') {
    try { raw.caBundle = readFileSync(flags.oidcCaFile, 'utf8'); } catch (e) {
      throw new Error(`OIDC settings: --oidc-ca-file ${flags.oidcCaFile} cannot be read: ${(e as Error).message}`);
    }
  }
  if (Object.keys(raw).length === 0) return undefined;
  const v = validateOidcOptions(raw);
  if (!v.ok) {
    throw new Error(`OIDC settings: ${v.errors.map((e) => e.field === 'oidc'
      ? `auth.oidc in --config: ${e.message}`
      : `${oidcFlag(e.field)} (auth.oidc.${e.field} in --config) ${e.message}`).join('; ')}`);
  }
  return v.value;
}

export function addGatewayCommand(program: Command): void {
  program.command('gateway')
    .description('Run the gateway inside a cluster: serve the AccessPolicies of one namespace (watched; changes need no restart), authenticate agents with ServiceAccount tokens (TokenReview) and, with an OIDC issuer configured, JWTs from that identity provider, keep approvals as ApprovalRequests. Uses the in-cluster ServiceAccount or KUBECONFIG.')
    .option('--config <file>', 'gateway.yaml written by the controller (namespace, port, audience, OIDC)')
    .option('--namespace <ns>', 'namespace to serve (default: from --config, $POD_NAMESPACE, or the kubeconfig context)')
    .option('--kubeconfig <file>', 'kubeconfig file (default $KUBECONFIG, ~/.kube/config, or in-cluster)')
    .option('--context <name>', 'kubeconfig context to use')
    .option('--audience <aud>', `token audience agents must request (default from --config, else ${GATEWAY_AUDIENCE})`)
    .option('--oidc-issuer-url <url>', 'accept JWTs whose iss is exactly this issuer (https; keys from its /.well-known/openid-configuration); default from --config auth.oidc')
    .option('--oidc-audience <aud>', 'audience (aud) OIDC tokens must carry (required with an issuer)')
    .option('--oidc-jwks-url <url>', 'the issuer\'s signing keys (JWKS); default: discovered from the issuer')
    .option('--oidc-username-claim <claim>', `claim naming the user (default ${OIDC_DEFAULTS.usernameClaim}; email needs email_verified true when present)`)
    .option('--oidc-groups-claim <claim>', `claim naming the groups, a string or a list (default ${OIDC_DEFAULTS.groupsClaim})`)
    .option('--oidc-username-prefix <prefix>', `prepended to OIDC user names, so they never meet cluster users (default ${OIDC_DEFAULTS.usernamePrefix})`)
    .option('--oidc-groups-prefix <prefix>', `prepended to OIDC group names (default ${OIDC_DEFAULTS.groupsPrefix})`)
    .option('--oidc-ca-file <file>', 'PEM certificates trusted for the issuer\'s discovery and keys (a provider behind a private CA); default from --config auth.oidc.caBundle, else the system trust store')
    .option('--port <port>', `port to listen on (default from --config, else ${GATEWAY_PORT}; 0 picks a free one)`, port)
    .option('--host <host>', 'address to listen on', '127.0.0.1')
    .option('--cache-dir <dir>', 'where the demo dataset is cached (default $PHIGATE_CACHE_DIR or ~/.cache/phigate)')
    .option('--log-format <format>', 'operational log format on stderr: text or json', 'text')
    .action(async (o) => {
      const log = createLogger(o.logFormat);
      const exit = (code: number) => { process.exitCode = code; setTimeout(() => process.exit(code), 100).unref(); };
      let gw: Awaited<ReturnType<typeof startClusterGateway>> | undefined;
      try {
        const config: GatewayConfig = o.config ? (parseYaml(readFileSync(o.config, 'utf8')) ?? {}) : {};
        const oidc = oidcSettings(config, o);
        const client = KubeClient.fromEnvironment({ kubeconfig: o.kubeconfig, context: o.context });
        const namespace = o.namespace ?? config.namespace ?? process.env.POD_NAMESPACE ?? client.defaultNamespace;
        gw = await startClusterGateway({
          client, namespace, log, cacheDir: o.cacheDir, host: o.host,
          port: o.port ?? config.listen?.port ?? GATEWAY_PORT,
          audience: o.audience ?? config.auth?.tokenReview?.audience ?? GATEWAY_AUDIENCE,
          oidc,
          auditStream: process.env.POD_NAME,
        });
        log.info(`gateway for namespace ${namespace} listening on ${gw.url} (API server ${client.server})`);
        await gw.loaded;
      } catch (e) {
        log.error(`phigate gateway: ${e instanceof Error ? e.message : String(e)}`);
        await gw?.close().catch(() => {});
        exit(1);
        return;
      }
      const stop = (sig: string) => {
        log.info(`${sig}: shutting down`);
        gw!.close().finally(() => exit(0));
        setTimeout(() => process.exit(0), 5000).unref();
      };
      process.once('SIGTERM', () => stop('SIGTERM'));
      process.once('SIGINT', () => stop('SIGINT'));
    });
}
