// manifests/install.yaml is the concatenation of the CRDs and the chart-independent YAML under
// manifests/{controller,rbac,admission}/, in an order kubectl can apply in one go (namespace
// first, the controller's Deployment last). test/unit/controller/manifests.test.ts keeps it in
// step; run it with PHIGATE_UPDATE_MANIFESTS=1 to rewrite it after editing a part.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from './cli.ts';

export const INSTALL_PATH = join(ROOT, 'manifests', 'install.yaml');

export function installParts(): string[] {
  const yamls = (dir: string) => readdirSync(join(ROOT, dir)).filter((f) => /\.ya?ml$/.test(f)).sort().map((f) => join(dir, f));
  return [
    ...yamls('crds'),
    'manifests/controller/namespace.yaml',
    ...yamls('manifests/rbac'),
    ...yamls('manifests/admission'),
    'manifests/controller/deployment.yaml',
  ];
}

export function renderInstall(): string {
  const header = [
    '# phigate install manifest: CRDs, RBAC, the approval admission policy and the controller.',
    '# Generated from crds/ and manifests/{controller,rbac,admission}/ (see test/helpers/install-manifest.ts);',
    '# edit those and run the manifests test with PHIGATE_UPDATE_MANIFESTS=1.',
    '#   kubectl apply --server-side -f manifests/install.yaml',
  ].join('\n');
  const docs = installParts().map((p) => `# Source: ${p}\n${readFileSync(join(ROOT, p), 'utf8').replace(/^---\n/, '').trimEnd()}\n`);
  return `${header}\n---\n${docs.join('---\n')}`;
}
