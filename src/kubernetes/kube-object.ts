/**
 * The few Kubernetes object shapes this backend reads and writes, as plain data (the wire format), and the
 * table from a kind to its REST path. Only the fields we use are typed; the rest passes through untouched.
 */

export interface ManagedFieldsEntry {
  manager: string;
  operation: 'Apply' | 'Update';
  apiVersion?: string;
  time?: string;
  fieldsType?: 'FieldsV1';
  fieldsV1?: Record<string, unknown>;
}

export interface ObjectMeta {
  name: string;
  namespace?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  resourceVersion?: string;
  uid?: string;
  generation?: number;
  creationTimestamp?: string;
  managedFields?: ManagedFieldsEntry[];
  [key: string]: unknown;
}

export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: ObjectMeta;
  spec?: unknown;
  status?: unknown;
  [key: string]: unknown;
}

export interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: unknown;
}

export interface Container {
  name: string;
  image?: string;
  args?: string[];
  command?: string[];
  env?: EnvVar[];
  ports?: { containerPort: number; name?: string; protocol?: string }[];
  [key: string]: unknown;
}

export interface PodTemplate {
  metadata?: { labels?: Record<string, string>; annotations?: Record<string, string>; [key: string]: unknown };
  spec: { containers: Container[]; [key: string]: unknown };
}

export interface DeploymentCondition {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  reason?: string;
  message?: string;
}

export interface Deployment extends KubeObject {
  apiVersion: 'apps/v1';
  kind: 'Deployment';
  spec: {
    replicas?: number;
    selector: { matchLabels?: Record<string, string>; [key: string]: unknown };
    template: PodTemplate;
    progressDeadlineSeconds?: number;
    [key: string]: unknown;
  };
  status?: {
    observedGeneration?: number;
    replicas?: number;
    updatedReplicas?: number;
    readyReplicas?: number;
    availableReplicas?: number;
    conditions?: DeploymentCondition[];
  };
}

export interface ServicePort {
  name?: string;
  port: number;
  targetPort?: number | string;
  protocol?: string;
  appProtocol?: string;
}

export interface KubeService extends KubeObject {
  apiVersion: 'v1';
  kind: 'Service';
  spec: { selector?: Record<string, string>; ports: ServicePort[]; [key: string]: unknown };
}

export interface Pod extends KubeObject {
  apiVersion: 'v1';
  kind: 'Pod';
  spec?: { nodeName?: string; [key: string]: unknown };
  status?: {
    phase?: string;
    podIP?: string;
    conditions?: { type: string; status: string }[];
    containerStatuses?: {
      name: string;
      ready: boolean;
      restartCount: number;
      state?: Record<string, { reason?: string; message?: string }>;
    }[];
    startTime?: string;
  };
}

export interface ResourceType {
  /** `''` for the core group. */
  group: string;
  version: string;
  /** Plural, lower-case, as in the URL. */
  plural: string;
  kind: string;
}

/** The resources this backend touches; the RBAC rules in deploy/ list exactly these. */
export const RESOURCES = {
  Deployment: { group: 'apps', version: 'v1', plural: 'deployments', kind: 'Deployment' },
  Service: { group: '', version: 'v1', plural: 'services', kind: 'Service' },
  Pod: { group: '', version: 'v1', plural: 'pods', kind: 'Pod' },
  VirtualService: { group: 'networking.istio.io', version: 'v1beta1', plural: 'virtualservices', kind: 'VirtualService' },
  DestinationRule: { group: 'networking.istio.io', version: 'v1beta1', plural: 'destinationrules', kind: 'DestinationRule' },
  HTTPRoute: { group: 'gateway.networking.k8s.io', version: 'v1', plural: 'httproutes', kind: 'HTTPRoute' },
} as const satisfies Record<string, ResourceType>;

/** The resource type of an object, from its apiVersion and kind. */
export function resourceOf(obj: Pick<KubeObject, 'apiVersion' | 'kind'>): ResourceType {
  const known = (RESOURCES as Record<string, ResourceType>)[obj.kind];
  const [group, version] = obj.apiVersion.includes('/') ? (obj.apiVersion.split('/') as [string, string]) : ['', obj.apiVersion];
  if (!known || known.group !== group) {
    throw new Error(`${obj.apiVersion} ${obj.kind} is not a resource Canary Mesh manages (known: ${Object.keys(RESOURCES).join(', ')})`);
  }
  return { ...known, version };
}

export function apiVersionOf(type: ResourceType): string {
  return type.group === '' ? type.version : `${type.group}/${type.version}`;
}

/** The REST path of a collection (`name` omitted) or of one object. */
export function resourcePath(type: ResourceType, namespace: string, name?: string): string {
  const base = type.group === '' ? `/api/${type.version}` : `/apis/${type.group}/${type.version}`;
  return `${base}/namespaces/${encodeURIComponent(namespace)}/${type.plural}${name === undefined ? '' : `/${encodeURIComponent(name)}`}`;
}

/** `Deployment default/reviews-v2`, for messages. */
export function describeObject(obj: Pick<KubeObject, 'kind' | 'metadata'>): string {
  return `${obj.kind} ${obj.metadata.namespace ? `${obj.metadata.namespace}/` : ''}${obj.metadata.name}`;
}

/** The field manager under which every object is applied. */
export const FIELD_MANAGER = 'canary-mesh';
export const MANAGED_BY = 'app.kubernetes.io/managed-by';
/** Label on Deployments created by a release, naming it, so finishing deletes only what a release created. */
export const RELEASE_LABEL = 'canary-mesh.io/release';
