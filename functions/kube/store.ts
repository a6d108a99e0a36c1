/**
 * The two small interfaces the pipeline reads and writes Kubernetes through, and their real implementations over a (lazily
 * connected) API server. Tests supply in-memory ones.
 */
import type { KubeApi } from './api.js';
import { recordEvent, type EventReason } from './events.js';
import type { KubeObject, ObjectCoordinates } from './object.js';
import { patchAnnotations, readBuildLog, readObject, type PatchOptions } from './objects.js';

export interface ObjectStore {
  /** The object as the API server has it now; undefined when it is gone. */
  read(ref: ObjectCoordinates, signal?: AbortSignal): Promise<KubeObject | undefined>;
  /** Patches annotations (null removes) under `options`' preconditions (objects.ts). */
  patchAnnotations(object: ObjectCoordinates, annotations: Readonly<Record<string, string | null>>, options?: PatchOptions): Promise<KubeObject>;
  readBuildLog(build: ObjectCoordinates, signal?: AbortSignal): Promise<string>;
}

export interface EventRecorder {
  record(object: ObjectCoordinates & { readonly uid: string }, event: EventReason, signal?: AbortSignal): Promise<void>;
}

export function kubeObjectStore(api: () => Promise<KubeApi>): ObjectStore {
  return {
    read: async (ref, signal) => readObject(await api(), ref, signal),
    patchAnnotations: async (object, annotations, options) => patchAnnotations(await api(), object, annotations, options),
    readBuildLog: async (build, signal) => readBuildLog(await api(), build, signal),
  };
}

export function kubeEventRecorder(api: () => Promise<KubeApi>, reportingInstance: string): EventRecorder {
  return { record: async (object, event, signal) => recordEvent(await api(), object, event, reportingInstance, signal) };
}
