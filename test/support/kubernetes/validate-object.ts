import { HTTPRoute } from '@kubernetes-models/gateway-api/gateway.networking.k8s.io/v1/HTTPRoute';
import { DestinationRule } from '@kubernetes-models/istio/networking.istio.io/v1beta1/DestinationRule';
import { VirtualService } from '@kubernetes-models/istio/networking.istio.io/v1beta1/VirtualService';
import { Deployment as DeploymentModel } from 'kubernetes-models/apps/v1/Deployment';
import { Service as ServiceModel } from 'kubernetes-models/v1/Service';
import type { KubeObject } from '../../../src/kubernetes/kube-object.js';

// Test-only: the schema packages are devDependencies.
/** Validates an object against the schema of its kind (kubernetes-models, istio, gateway-api); returns it. */
export function validateObject(obj: KubeObject): KubeObject {
  const json = JSON.parse(JSON.stringify(obj));
  switch (obj.kind) {
    case 'Deployment':
      new DeploymentModel(json).validate();
      break;
    case 'Service':
      new ServiceModel(json).validate();
      break;
    case 'VirtualService':
      new VirtualService(json).validate();
      break;
    case 'DestinationRule':
      new DestinationRule(json).validate();
      break;
    case 'HTTPRoute':
      new HTTPRoute(json).validate();
      break;
    default:
      throw new Error(`no schema for ${obj.kind}`);
  }
  return obj;
}
