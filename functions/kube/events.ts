/** Kubernetes Events on the objects we act on: what `oc describe build` shows users, a Build's author included, so redacted here. */
import { randomBytes } from 'node:crypto';
import type { KubeApi } from './api.js';
import { redactLine } from '../observability/redact.js';
import { apiPath, type ObjectCoordinates } from './object.js';

export type EventType = 'Normal' | 'Warning';

export interface EventReason {
  readonly type: EventType;
  /** CamelCase, e.g. AnalysisSubmitted, AnalysisRefused, PushFailed. */
  readonly reason: string;
  readonly message: string;
}

const REPORTING_COMPONENT = 'build-watcher';
const MAX_MESSAGE = 1024;

export async function recordEvent(api: KubeApi, object: ObjectCoordinates & { readonly uid: string }, event: EventReason,
  reportingInstance: string, signal?: AbortSignal): Promise<void> {
  const now = new Date().toISOString();
  await api.request({
    method: 'POST',
    path: apiPath({ apiVersion: 'v1', plural: 'events', namespace: object.namespace }),
    body: {
      apiVersion: 'v1', kind: 'Event',
      metadata: { name: `${object.name.slice(0, 200)}.${randomBytes(8).toString('hex')}`, namespace: object.namespace },
      involvedObject: {
        apiVersion: object.apiVersion, kind: object.kind, name: object.name, namespace: object.namespace,
        ...(object.uid !== '' ? { uid: object.uid } : {}),
      },
      type: event.type, reason: event.reason, message: redactLine(event.message, MAX_MESSAGE),
      source: { component: REPORTING_COMPONENT }, reportingComponent: REPORTING_COMPONENT, reportingInstance,
      firstTimestamp: now, lastTimestamp: now, count: 1,
    },
    ...(signal ? { signal } : {}),
  });
}
