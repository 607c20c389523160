/**
 * The container files, checked for structure (there is no container engine or cluster here to run
 * them): the Kubernetes manifests of deploy/k8s (kinds, selectors that match the pods' labels, probes
 * on the container's ports, the data volume, Secret references that exist, the seed and advertise
 * addresses under the headless service) and the Dockerfile's basics.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { loadAll } from 'js-yaml';
import t from 'tap';
import { PROJECT_ROOT } from '../fixtures/daemon-process.js';

// biome-ignore lint/suspicious/noExplicitAny: parsed YAML, read field by field by the checks below
type Doc = Record<string, any>;

const K8S = join(PROJECT_ROOT, 'deploy/k8s');

async function manifests(): Promise<Doc[]> {
  const docs: Doc[] = [];
  for (const name of (await readdir(K8S)).filter((n) => n.endsWith('.yaml')).sort()) {
    if (name === 'kustomization.yaml') continue;
    for (const doc of loadAll(await readFile(join(K8S, name), 'utf8'))) {
      if (doc !== null && doc !== undefined) docs.push({ ...(doc as Doc), file: name });
    }
  }
  return docs;
}

function subsetOf(selector: Record<string, string>, labels: Record<string, string>): boolean {
  return Object.keys(selector).length > 0 && Object.entries(selector).every(([k, v]) => labels[k] === v);
}

t.test('deploy/k8s: a StatefulSet that the services, the PDB and the Secret fit', async (t) => {
  const docs = await manifests();
  const kinds = docs.map((d) => d.kind).sort();
  t.same(kinds, ['PodDisruptionBudget', 'Secret', 'Service', 'Service', 'StatefulSet'], 'the kinds');
  const kustomization = loadAll(await readFile(join(K8S, 'kustomization.yaml'), 'utf8'))[0] as Doc;
  t.same(
    [...kustomization.resources].sort(),
    [...new Set(docs.map((d) => d.file))].sort(),
    'kustomization.yaml lists every manifest',
  );

  const set = docs.find((d) => d.kind === 'StatefulSet')!;
  const pod = set.spec.template;
  const labels = pod.metadata.labels as Record<string, string>;
  t.ok(subsetOf(set.spec.selector.matchLabels, labels), 'the StatefulSet selects its pods');

  const services = docs.filter((d) => d.kind === 'Service');
  const headless = services.find((s) => s.spec.clusterIP === 'None');
  t.ok(headless, 'a headless service');
  t.equal(set.spec.serviceName, headless?.metadata.name, 'the StatefulSet names the headless service');
  t.equal(headless?.spec.publishNotReadyAddresses, true, 'peers resolve before they are ready');
  for (const service of services) {
    t.ok(subsetOf(service.spec.selector, labels), `service ${service.metadata.name} selects the pods`);
  }
  const pdb = docs.find((d) => d.kind === 'PodDisruptionBudget')!;
  t.ok(subsetOf(pdb.spec.selector.matchLabels, labels), 'the PDB selects the pods');

  t.equal(pod.spec.containers.length, 1);
  const container = pod.spec.containers[0];
  const ports = new Map<string, number>(container.ports.map((p: Doc) => [p.name, p.containerPort]));
  const env = new Map<string, Doc>(container.env.map((e: Doc) => [e.name, e]));
  t.equal(String(ports.get('http')), env.get('LALLY_HTTP_PORT')?.value, 'the http port is LALLY_HTTP_PORT');
  t.equal(String(ports.get('grpc')), env.get('LALLY_GRPC_PORT')?.value, 'the grpc port is LALLY_GRPC_PORT');
  for (const service of services) {
    for (const port of service.spec.ports) {
      t.ok(
        ports.has(port.targetPort),
        `service ${service.metadata.name} targets the named port ${port.targetPort}`,
      );
      t.equal(port.port, ports.get(port.targetPort), `and serves it on the same number`);
    }
  }

  const probe = (name: string) => container[name]?.httpGet as Doc | undefined;
  t.equal(probe('livenessProbe')?.path, '/livez', 'liveness on /livez');
  t.equal(probe('readinessProbe')?.path, '/readyz', 'readiness on /readyz');
  t.equal(probe('startupProbe')?.path, '/livez', 'start-up on /livez');
  for (const name of ['livenessProbe', 'readinessProbe', 'startupProbe']) {
    const port = probe(name)?.port;
    t.ok(port === 'http' || port === ports.get('http'), `${name} asks the http port`);
  }

  const claims = set.spec.volumeClaimTemplates.map((c: Doc) => c.metadata.name);
  const mount = container.volumeMounts.find((m: Doc) => claims.includes(m.name));
  t.ok(mount, 'a claim template is mounted');
  t.equal(env.get('LALLY_DATA_DIR')?.value, mount?.mountPath, 'the data dir is on the claim');

  const secrets = docs.filter((d) => d.kind === 'Secret');
  const refs = container.env
    .filter((e: Doc) => e.valueFrom?.secretKeyRef)
    .map((e: Doc) => [e.name, e.valueFrom.secretKeyRef]);
  t.same(
    refs.map(([name]: [string]) => name).sort(),
    ['LALLY_AUTH_TOKEN', 'LALLY_CLUSTER_SECRET'],
    'token and cluster secret from a Secret',
  );
  for (const [name, ref] of refs as [string, Doc][]) {
    const secret = secrets.find((s) => s.metadata.name === ref.name);
    t.ok(secret, `${name}: the Secret ${ref.name} exists`);
    t.ok(ref.key in { ...secret?.stringData, ...secret?.data }, `${name}: it has the key ${ref.key}`);
  }

  // Peer discovery: each pod advertises its stable name; the others seed from pod 0, both under the
  // headless service and on the gRPC port.
  const peers = `${headless?.metadata.name}.$(POD_NAMESPACE).svc.cluster.local:${ports.get('grpc')}`;
  t.equal(env.get('LALLY_ADVERTISE')?.value, `$(POD_NAME).${peers}`, 'advertise: the pod DNS name');
  const names = container.env.map((e: Doc) => e.name);
  t.ok(names.indexOf('POD_NAME') < names.indexOf('LALLY_ADVERTISE'), 'POD_NAME is defined before it is used');
  const script = container.args.join('\n');
  const shellNamespace = ['$', '{POD_NAMESPACE}'].join(''); // as the shell spells it
  t.match(
    script,
    `LALLY_SEED_NODE="${set.metadata.name}-0.${peers.replace('$(POD_NAMESPACE)', shellNamespace)}"`,
    'the seed: pod 0',
  );
  t.match(script, /exec node dist\/src\/cli\/main\.js/, 'the shell execs node: signals reach the daemon');
  t.same(container.command.slice(0, 2), ['/usr/bin/tini', '--'], 'tini stays PID 1');
  t.ok(pod.spec.terminationGracePeriodSeconds > 10, 'the grace period is above shutdown_timeout_ms');
});

t.test('Dockerfile and .dockerignore', async (t) => {
  const text = await readFile(join(PROJECT_ROOT, 'Dockerfile'), 'utf8');
  const lines = text.split('\n').filter((line) => !line.startsWith('#'));
  const from = lines.filter((line) => line.startsWith('FROM '));
  t.same(
    from,
    ['FROM node:20-bookworm-slim AS build', 'FROM node:20-bookworm-slim'],
    'multi-stage on node:20-bookworm-slim',
  );
  const runtime = text.slice(text.lastIndexOf('\nFROM '));
  t.match(runtime, /apt-get install -y --no-install-recommends tini/, 'tini from Debian');
  t.match(runtime, /^ENTRYPOINT \["\/usr\/bin\/tini", "--"\]$/m, 'tini is the entrypoint');
  t.match(runtime, /^CMD \["node", "dist\/src\/cli\/main\.js"\]$/m, 'node runs the daemon, not npm');
  t.match(runtime, /rm -rf \/usr\/local\/lib\/node_modules\/npm/, 'no npm at run time');
  t.match(runtime, /^USER node$/m, 'a non-root user');
  t.match(runtime, /^VOLUME \["\/data"\]$/m, 'a /data volume');
  t.match(runtime, /LALLY_DATA_DIR=\/data/, 'the data dir on it');
  t.match(
    runtime,
    /^HEALTHCHECK .*CMD \["node", "scripts\/healthcheck\.mjs"\]$/ms,
    'a health check with node',
  );
  t.match(runtime, /^COPY --from=build \/app\/scripts\/healthcheck\.mjs /m, 'its script is in the image');
  t.match(
    await readFile(join(PROJECT_ROOT, 'scripts/healthcheck.mjs'), 'utf8'),
    /path: '\/livez'/,
    'on /livez',
  );
  t.match(runtime, /^EXPOSE 3000 50071$/m, 'the default ports');
  const pkg = JSON.parse(await readFile(join(PROJECT_ROOT, 'package.json'), 'utf8')) as {
    bin: { lally: string };
  };
  t.equal(pkg.bin.lally, 'dist/src/cli/main.js', 'the CMD path is the built binary');

  const ignore = (await readFile(join(PROJECT_ROOT, '.dockerignore'), 'utf8')).split('\n');
  for (const entry of ['.git', 'node_modules', 'dist'])
    t.ok(ignore.includes(entry), `.dockerignore leaves out ${entry}`);
});
