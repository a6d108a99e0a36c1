/** CloudEvent types the function accepts, and the ones it answers with. */

export const APISERVER_RESOURCE_PREFIX = 'dev.knative.apiserver.resource.';
export const APISERVER_REFERENCE_PREFIX = 'dev.knative.apiserver.ref.';

/** Sent by a PingSource (its type is fixed by Knative) or by hand to start a catch-up sweep. */
export const PING_SOURCE_TYPE = 'dev.knative.sources.ping';
export const SWEEP_REQUESTED_TYPE = 'dev.build-watcher.sweep.requested';

/**
 * Replies are published back into the Broker. Their types share no prefix with the ApiServerSource types, and they carry no
 * `kind` extension, so a Trigger filtered on build events can never deliver them back to us.
 */
export const ANALYSIS_SUBMITTED_TYPE = 'dev.build-watcher.analysis.submitted';
export const ANALYSIS_REFUSED_TYPE = 'dev.build-watcher.analysis.refused';
/**
 * An object's images were resolved by digest (and pushed, if configured), whether or not Thoth exists: the reply without Thoth,
 * and sent to K_SINK beside Thoth's reply. Any analyser can subscribe with one Trigger. Its data's schema:
 * knative/schemas/dev.build-watcher.image.built.json.
 */
export const IMAGE_BUILT_TYPE = 'dev.build-watcher.image.built';
export const SWEEP_COMPLETED_TYPE = 'dev.build-watcher.sweep.completed';
/**
 * One object a sweep picked and handed to the Broker (K_SINK) rather than working on it itself; the shipped Trigger
 * (knative/trigger-sweep.yaml) routes it back to the function. Data: {apiVersion, kind, namespace, name}, nothing else.
 */
export const OBJECT_PENDING_TYPE = 'dev.build-watcher.object.pending';
export const REPLY_SOURCE = '/build-watcher';

export type ObjectAction = 'add' | 'update' | 'delete';
