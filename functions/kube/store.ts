/** The pipeline's ObjectStore and EventRecorder over a (lazily connected) API server. */
import type { EventRecorder, ObjectStore } from '../pipeline/ports.js';
import type { KubeApi } from './api.js';
import { recordEvent } from './events.js';
import { patchAnnotations, readBuildLog, readObject } from './objects.js';

export function kubeObjectStore(api: () => Promise<KubeApi>): ObjectStore {
  return {
    read: async (ref, signal) => readObject(await api(), ref, signal),
    patchAnnotations: async (object, annotations, options) => patchAnnotations(await api(), object, annotations, options),
    readBuildLog: async (build, signal) => readBuildLog(await api(), build, signal),
  };
}

export function kubeEventRecorder(api: () => Promise<KubeApi>): EventRecorder {
  return { record: async (object, event) => recordEvent(await api(), object, event) };
}

/** Connects on first use; a failed connection is retried on the next use. */
export function lazyKubeApi(connect: () => Promise<KubeApi>): () => Promise<KubeApi> {
  let pending: Promise<KubeApi> | undefined;
  return () => {
    pending ??= connect().catch((error: unknown) => {
      pending = undefined;
      throw error;
    });
    return pending;
  };
}
