/**
 * The sweep's hand-off: each picked object beyond the sweep's own share goes to K_SINK (the Broker) as one small
 * dev.build-watcher.object.pending CloudEvent. The Broker delivers them in parallel, with its own retries and dead letters,
 * to whichever replica Knative scales out to; each is worked on like a live update (functions/sweep/picked.ts).
 */
import { eventId } from '../events/event-id.js';
import { sendToSink } from '../events/sink.js';
import { OBJECT_PENDING_TYPE, REPLY_SOURCE } from '../events/types.js';
import { apiPath, type KubeObject, type ObjectCoordinates } from '../kube/object.js';

/** A picked object as the sweep listed it: where it is, and which object at which version, for the event's id. */
export type Pending = ObjectCoordinates & Pick<KubeObject, 'uid' | 'resourceVersion'>;
export type HandOff = (pending: Pending, signal: AbortSignal) => Promise<void>;

/**
 * The event's data is the object's coordinates only: the receiver re-reads the object, it never trusts the sender. Its id
 * names the object at the version listed: another sweep (after a crash, on another replica) that finds it unchanged hands
 * off the same fact; once anyone has worked on it, its version, and so the id, differ.
 */
export function handOffTo(sink: string): HandOff {
  return (pending, signal) => {
    const subject = apiPath(pending);
    return sendToSink(sink, {
      id: eventId({ type: OBJECT_PENDING_TYPE, subject, uid: pending.uid, facts: [pending.resourceVersion] }), type: OBJECT_PENDING_TYPE, source: REPLY_SOURCE, subject,
      data: { apiVersion: pending.apiVersion, kind: pending.kind, namespace: pending.namespace, name: pending.name },
    }, signal);
  };
}

