/**
 * The sweep's hand-off: each picked object beyond the sweep's own share goes to K_SINK (the Broker) as one small
 * dev.build-watcher.object.pending CloudEvent. The Broker delivers them in parallel, with its own retries and dead letters,
 * to whichever replica Knative scales out to; each is worked on like a live update (functions/sweep/picked.ts).
 */
import { sendToSink } from '../events/sink.js';
import { OBJECT_PENDING_TYPE, REPLY_SOURCE } from '../events/types.js';
import { apiPath, type ObjectCoordinates } from '../kube/object.js';

export type HandOff = (ref: ObjectCoordinates, signal: AbortSignal) => Promise<void>;

/** The event's data is the object's coordinates only: the receiver re-reads the object, it never trusts the sender. */
export function handOffTo(sink: string): HandOff {
  return (ref, signal) => sendToSink(sink, {
    type: OBJECT_PENDING_TYPE, source: REPLY_SOURCE, subject: apiPath(ref),
    data: { apiVersion: ref.apiVersion, kind: ref.kind, namespace: ref.namespace, name: ref.name },
  }, signal);
}

