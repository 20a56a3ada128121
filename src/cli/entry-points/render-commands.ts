import type { Command } from 'commander';
import { reportError } from '../client-command.js';

/** `canary render --kubernetes FILE`: every object a release would apply on a cluster, for GitOps. No cluster needed. */
export function registerRenderCommands(program: Command): void {
  program
    .command('render')
    .description('print every Kubernetes/Istio object a release would apply (for kubectl apply or a Git repository)')
    .argument('<file>', 'YAML: the release (API shape), then the Service and baseline Deployment it builds on')
    .option('--kubernetes', 'render Kubernetes objects (the only target for now)')
    .option('--namespace <ns>', 'namespace of the rendered objects', 'default')
    .option('--traffic <mode>', 'istio (DestinationRule + VirtualService) or gateway-api (HTTPRoute + per-version Services)', 'istio')
    .option('--pending', 'render traffic as while the candidate starts (baseline keeps everything)')
    .addHelpText(
      'after',
      `
Examples:
  canary render --kubernetes examples/reviews-canary-k8s.yaml | kubectl apply -f -
  canary render --kubernetes examples/reviews-canary-k8s.yaml --traffic gateway-api --namespace demo

The output is a YAML stream: the candidate Deployment (a copy of the baseline with the new image and label
version=<candidate>), the DestinationRule (one subset per version) and the VirtualService (the split). See
docs/kubernetes.md.`,
    )
    .action(async (file: string, opts: { kubernetes?: boolean; namespace: string; traffic: string; pending?: boolean }) => {
      try {
        if (!opts.kubernetes) throw new Error('say what to render: --kubernetes (the only target for now)');
        if (opts.traffic !== 'istio' && opts.traffic !== 'gateway-api') {
          throw new Error(`--traffic: must be "istio" or "gateway-api", got "${opts.traffic}"`);
        }
        const { renderKubernetes } = (await import('../../kubernetes/index.js')) as typeof import('../../kubernetes/index.js');
        process.stdout.write(
          await renderKubernetes(file, { namespace: opts.namespace, traffic: opts.traffic, pending: opts.pending === true }),
        );
      } catch (err) {
        reportError(err);
      }
    });
}
