import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import type { RequestOptions } from 'node:https';
import { homedir } from 'node:os';
import { delimiter, dirname, isAbsolute, join, resolve } from 'node:path';
import { parse } from 'yaml';

/**
 * Credentials for the API server from a kubeconfig file or from the pod's service account, as kubectl
 * reads them: server, CA, client certificate, bearer token (inline, from a file, or from an exec plugin
 * such as `aws eks get-token` or `gke-gcloud-auth-plugin`), basic auth, insecure-skip-tls-verify.
 * (Written here rather than taken from @kubernetes/client-node 2, whose bundled undici needs Node 22.)
 */

export interface KubeConnection {
  server: string;
  namespace: string;
  /** Sets TLS options and the Authorization header on a request. */
  prepare: (opts: RequestOptions) => Promise<void>;
  /** Where the credentials came from, for messages. */
  source: string;
  /** Forgets cached credentials (the server answered 401): the next request runs the exec plugin again. */
  refresh?: () => void;
}

interface NamedCluster {
  name: string;
  cluster: {
    server: string;
    'certificate-authority'?: string;
    'certificate-authority-data'?: string;
    'insecure-skip-tls-verify'?: boolean;
    'tls-server-name'?: string;
  };
}
interface ExecConfig {
  command: string;
  args?: string[];
  env?: { name: string; value: string }[] | null;
  apiVersion?: string;
  /** Pass the cluster (server, CA) to the plugin in KUBERNETES_EXEC_INFO. */
  provideClusterInfo?: boolean;
}
interface NamedUser {
  name: string;
  user: {
    token?: string;
    tokenFile?: string;
    'client-certificate'?: string;
    'client-certificate-data'?: string;
    'client-key'?: string;
    'client-key-data'?: string;
    username?: string;
    password?: string;
    exec?: ExecConfig;
    'auth-provider'?: unknown;
  };
}
interface KubeConfigFile {
  clusters?: NamedCluster[];
  users?: NamedUser[];
  contexts?: { name: string; context: { cluster: string; user?: string; namespace?: string } }[];
  'current-context'?: string;
}

const SA_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

/** From `file` (else $KUBECONFIG, else ~/.kube/config), or in a pod, from its service account. */
export function loadKubeConnection(opts: { kubeconfig?: string; context?: string; namespace?: string } = {}): KubeConnection {
  const files = opts.kubeconfig
    ? [opts.kubeconfig]
    : (process.env.KUBECONFIG?.split(delimiter).filter(Boolean) ?? [join(homedir(), '.kube', 'config')]);
  const present = files.filter((f) => existsSync(f));
  if (opts.kubeconfig && present.length === 0) throw new Error(`--kubeconfig ${opts.kubeconfig}: no such file`);
  if (present.length === 0) {
    if (process.env.KUBERNETES_SERVICE_HOST && existsSync(join(SA_DIR, 'token'))) return inCluster(opts.namespace);
    throw new Error('no Kubernetes cluster configured: give --kubeconfig FILE (or set KUBECONFIG), or run in a pod with a service account');
  }
  return fromKubeconfig(present, opts.context, opts.namespace);
}

function inCluster(namespace?: string): KubeConnection {
  const host = process.env.KUBERNETES_SERVICE_HOST!;
  const port = process.env.KUBERNETES_SERVICE_PORT ?? '443';
  const ca = readFileSync(join(SA_DIR, 'ca.crt'));
  const ns = namespace ?? readFileSync(join(SA_DIR, 'namespace'), 'utf8').trim();
  return {
    server: `https://${host.includes(':') ? `[${host}]` : host}:${port}`,
    namespace: ns,
    source: 'the pod service account',
    // Bound service-account tokens rotate: read the file on every request (it is tiny and cached by the OS).
    prepare: async (o) => {
      o.ca = ca;
      o.headers = { ...o.headers, authorization: `Bearer ${readFileSync(join(SA_DIR, 'token'), 'utf8').trim()}` };
    },
  };
}

function fromKubeconfig(files: string[], contextName: string | undefined, namespace: string | undefined): KubeConnection {
  // Several files merge as kubectl merges them: the first file that names an entry wins.
  const merged: Required<Pick<KubeConfigFile, 'clusters' | 'users' | 'contexts'>> & { current?: string; base: Map<string, string> } = {
    clusters: [],
    users: [],
    contexts: [],
    base: new Map(),
  };
  for (const file of files) {
    let cfg: KubeConfigFile;
    try {
      cfg = (parse(readFileSync(file, 'utf8')) ?? {}) as KubeConfigFile;
    } catch (err) {
      throw new Error(`${file}: not a valid kubeconfig: ${(err as Error).message.split('\n')[0]}`);
    }
    const base = dirname(resolve(file));
    for (const c of cfg.clusters ?? []) {
      if (merged.clusters.some((x) => x.name === c.name)) continue;
      merged.clusters.push(c);
      merged.base.set(`c:${c.name}`, base);
    }
    for (const u of cfg.users ?? []) {
      if (merged.users.some((x) => x.name === u.name)) continue;
      merged.users.push(u);
      merged.base.set(`u:${u.name}`, base);
    }
    for (const c of cfg.contexts ?? []) if (!merged.contexts.some((x) => x.name === c.name)) merged.contexts.push(c);
    merged.current ??= cfg['current-context'] || undefined;
  }
  const name = contextName ?? merged.current;
  const names = merged.contexts.map((c) => c.name).join(', ') || 'none';
  if (!name) throw new Error(`the kubeconfig has no current context; give --context (have: ${names})`);
  const ctx = merged.contexts.find((c) => c.name === name);
  if (!ctx) throw new Error(`--context ${name}: no such context in the kubeconfig (have: ${names})`);
  const cluster = merged.clusters.find((c) => c.name === ctx.context.cluster);
  if (!cluster) throw new Error(`context ${name}: cluster "${ctx.context.cluster}" is not in the kubeconfig`);
  const user = merged.users.find((u) => u.name === ctx.context.user)?.user ?? {};
  if (user['auth-provider']) throw new Error(`context ${name}: auth-provider users are not supported; use an exec credential plugin`);
  const cbase = merged.base.get(`c:${cluster.name}`)!;
  const ubase = merged.base.get(`u:${ctx.context.user}`) ?? cbase;
  const file = (base: string, p: string) => readFileSync(isAbsolute(p) ? p : join(base, p));
  const data = (b64: string) => Buffer.from(b64, 'base64');

  const c = cluster.cluster;
  const ca = c['certificate-authority-data']
    ? data(c['certificate-authority-data'])
    : c['certificate-authority']
      ? file(cbase, c['certificate-authority'])
      : undefined;
  const cert = user['client-certificate-data']
    ? data(user['client-certificate-data'])
    : user['client-certificate']
      ? file(ubase, user['client-certificate'])
      : undefined;
  const key = user['client-key-data'] ? data(user['client-key-data']) : user['client-key'] ? file(ubase, user['client-key']) : undefined;
  const exec = user.exec ? execCredential(user.exec, c) : undefined;

  return {
    server: c.server,
    namespace: namespace ?? ctx.context.namespace ?? 'default',
    source: `context ${name}`,
    prepare: async (o) => {
      if (ca) o.ca = ca;
      if (cert) o.cert = cert;
      if (key) o.key = key;
      if (c['insecure-skip-tls-verify']) o.rejectUnauthorized = false;
      if (c['tls-server-name']) o.servername = c['tls-server-name'];
      let auth: string | undefined;
      if (user.token) auth = `Bearer ${user.token}`;
      else if (user.tokenFile) auth = `Bearer ${file(ubase, user.tokenFile).toString('utf8').trim()}`;
      else if (user.username !== undefined) auth = `Basic ${Buffer.from(`${user.username}:${user.password ?? ''}`).toString('base64')}`;
      if (exec) {
        const cred = await exec();
        if (cred.token) auth = `Bearer ${cred.token}`;
        if (cred.clientCertificateData) o.cert = cred.clientCertificateData;
        if (cred.clientKeyData) o.key = cred.clientKeyData;
      }
      if (auth) o.headers = { ...o.headers, authorization: auth };
    },
    ...(exec ? { refresh: exec.forget } : {}),
  };
}

interface ExecStatus {
  token?: string;
  clientCertificateData?: string;
  clientKeyData?: string;
  expirationTimestamp?: string;
}

/**
 * Runs the credential plugin when there is no cached credential, when it is about to expire, or after the
 * server refused it (`forget`, on a 401): a credential without `expirationTimestamp` is kept until then, as
 * client-go does. Concurrent requests share one run. The plugin gets KUBERNETES_EXEC_INFO (the
 * ExecCredential input of client.authentication.k8s.io), with the cluster when `provideClusterInfo` is set.
 */
function execCredential(cfg: ExecConfig, cluster: NamedCluster['cluster']): (() => Promise<ExecStatus>) & { forget: () => void } {
  let cached: { status: ExecStatus; until: number } | null = null;
  let running: Promise<ExecStatus> | null = null;
  const apiVersion = cfg.apiVersion ?? 'client.authentication.k8s.io/v1';
  const run = async (): Promise<ExecStatus> => {
    const info = {
      apiVersion,
      kind: 'ExecCredential',
      spec: {
        interactive: false,
        ...(cfg.provideClusterInfo
          ? {
              cluster: {
                server: cluster.server,
                ...(cluster['certificate-authority-data'] ? { 'certificate-authority-data': cluster['certificate-authority-data'] } : {}),
                ...(cluster['insecure-skip-tls-verify'] ? { 'insecure-skip-tls-verify': true } : {}),
                ...(cluster['tls-server-name'] ? { 'tls-server-name': cluster['tls-server-name'] } : {}),
              },
            }
          : {}),
      },
    };
    const env = {
      ...process.env,
      ...Object.fromEntries((cfg.env ?? []).map((e) => [e.name, e.value])),
      KUBERNETES_EXEC_INFO: JSON.stringify(info),
    };
    const stdout = await new Promise<string>((resolveOut, reject) => {
      execFile(cfg.command, cfg.args ?? [], { env, timeout: 30_000 }, (err, out, stderr) =>
        err ? reject(new Error(`credential plugin ${cfg.command} failed: ${stderr.trim() || err.message}`)) : resolveOut(out),
      );
    });
    let status: ExecStatus;
    try {
      status = ((JSON.parse(stdout) as { status?: ExecStatus }).status ?? {}) as ExecStatus;
    } catch {
      throw new Error(`credential plugin ${cfg.command} did not print an ExecCredential as JSON`);
    }
    // Renew a minute early so that no request goes out with a token that expires on the way.
    const expires = status.expirationTimestamp ? Date.parse(status.expirationTimestamp) - 60_000 : Number.POSITIVE_INFINITY;
    cached = { status, until: expires };
    return status;
  };
  const get = async (): Promise<ExecStatus> => {
    if (cached && Date.now() < cached.until) return cached.status;
    running ??= run().finally(() => {
      running = null;
    });
    return running;
  };
  return Object.assign(get, {
    forget: () => {
      cached = null;
    },
  });
}
