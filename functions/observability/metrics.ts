/**
 * Every metric the function exports, named build_watcher_*, listed in the README.
 *
 * faas-js-runtime serves `/metrics` from a prom-client Registry it creates privately in start(). It names itself by calling
 * `setDefaultLabels` on that registry right away, so we catch the registry there and register our metrics on it: one `/metrics`,
 * one scrape.
 */
import promClient from 'prom-client';
import type { ThothRequestObservation } from '../thoth/transport.js';

const { Counter, Gauge, Histogram, Registry } = promClient;

/** Our own registry, for the command line and tests; also merged into the runtime's. */
export const metricsRegistry = new Registry();

export const eventsReceived = new Counter({
  name: 'build_watcher_events_received_total', help: 'CloudEvents received, by event type and by the decision taken',
  labelNames: ['type', 'decision'] as const, registers: [metricsRegistry],
});

export const waitingForWorker = new Gauge({
  name: 'build_watcher_waiting_for_worker',
  help: 'Objects waiting in this process for one of THOTH_BUILD_WATCHER_WORKERS, by priority (live deliveries, bounded by BUILD_WATCHER_QUEUE_LIMIT; background: a sweep\'s picked objects)',
  labelNames: ['priority'] as const, registers: [metricsRegistry],
});

export const submissions = new Counter({
  name: 'build_watcher_submissions_total',
  help: 'Submissions to the Thoth User API, by endpoint and result (submitted, cached, refused, failed)',
  labelNames: ['endpoint', 'result'] as const, registers: [metricsRegistry],
});

export const thothLatency = new Histogram({
  name: 'build_watcher_thoth_request_duration_seconds',
  help: 'Latency of Thoth User API requests, by endpoint and HTTP status (0 = no answer)',
  labelNames: ['endpoint', 'status'] as const,
  buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120],
  registers: [metricsRegistry],
});

export const thothAmbiguousSubmissions = new Counter({
  name: 'build_watcher_thoth_ambiguous_submissions_total',
  help: 'Submissions Thoth may or may not have accepted (a timeout or a dropped connection once sent, a gateway 502/504): never re-sent by the client; the next delivery sends them again, which Thoth answers from its cache',
  labelNames: ['endpoint'] as const, registers: [metricsRegistry],
});

/** One attempt the Thoth client reports (its onRequest), into the metrics it feeds. */
export function observeThothRequest({ endpoint, status, seconds, ambiguous }: ThothRequestObservation): void {
  thothLatency.observe({ endpoint, status: String(status) }, seconds);
  if (ambiguous) thothAmbiguousSubmissions.inc({ endpoint });
}

export const imageCopies = new Counter({
  name: 'build_watcher_image_copies_total', help: 'Copies to THOTH_PUSH_REGISTRY, by result (copied, failed)',
  labelNames: ['result'] as const, registers: [metricsRegistry],
});

export const sweepObjects = new Counter({
  name: 'build_watcher_sweep_objects_total',
  help: 'Objects visited by catch-up sweeps, by kind and outcome (submitted, skipped, busy, refused, failed, handed-off)',
  labelNames: ['kind', 'outcome'] as const, registers: [metricsRegistry],
});

export const resubmissions = new Counter({
  name: 'build_watcher_resubmissions_total',
  help: 'Objects taken over from a claim whose holder stopped before marking them: submitted again, which Thoth answers from its cache if the first attempt reached it',
  labelNames: ['kind'] as const, registers: [metricsRegistry],
});

export const lostLeaseSubmissions = new Counter({
  name: 'build_watcher_lost_lease_submissions_total',
  help: 'Objects submitted by a holder that then found its claim taken over before it could mark them: the other holder submits them too',
  labelNames: ['kind'] as const, registers: [metricsRegistry],
});

let attached = false;

/** Makes our metrics appear on the runtime's `/metrics`. Idempotent. */
export function attachToRuntimeRegistry(): void {
  if (attached) return;
  attached = true;
  const original = Registry.prototype.setDefaultLabels;
  Registry.prototype.setDefaultLabels = function setDefaultLabels(this: InstanceType<typeof Registry>, labels: object) {
    original.call(this, labels);
    if (this === metricsRegistry) return;
    if (this.getSingleMetric('build_watcher_events_received_total') !== undefined) return;
    this.registerMetric(eventsReceived);
    this.registerMetric(submissions);
    this.registerMetric(thothLatency);
    this.registerMetric(thothAmbiguousSubmissions);
    this.registerMetric(imageCopies);
    this.registerMetric(sweepObjects);
    this.registerMetric(resubmissions);
    this.registerMetric(lostLeaseSubmissions);
    this.registerMetric(waitingForWorker);
  };
}
