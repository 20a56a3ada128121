import type { Deployment, KubeService } from '../../../src/kubernetes/kube-object.js';

/** Bookinfo's reviews v1, as Istio's sample manifests (bookinfo.yaml) deploy it. */
export function reviewsV1Deployment(namespace = 'default'): Deployment {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'reviews-v1', namespace, labels: { app: 'reviews', version: 'v1' } },
    spec: {
      replicas: 1,
      selector: { matchLabels: { app: 'reviews', version: 'v1' } },
      template: {
        metadata: { labels: { app: 'reviews', version: 'v1' } },
        spec: {
          serviceAccountName: 'bookinfo-reviews',
          containers: [
            {
              name: 'reviews',
              image: 'docker.io/istio/examples-bookinfo-reviews-v1:1.20.3',
              imagePullPolicy: 'IfNotPresent',
              env: [{ name: 'LOG_DIR', value: '/tmp/logs' }],
              ports: [{ containerPort: 9080 }],
            },
          ],
        },
      },
    },
  };
}

export function reviewsService(namespace = 'default'): KubeService {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: 'reviews', namespace, labels: { app: 'reviews', service: 'reviews' } },
    spec: { selector: { app: 'reviews' }, ports: [{ name: 'http', port: 9080 }] },
  };
}
