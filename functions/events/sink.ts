/**
 * Sends one CloudEvent in binary content mode to a sink (K_SINK, which a Knative SinkBinding sets: the Broker's address), with
 * the shared retry policy. The answer's body is never read into a message.
 */
import { http, https } from '../builtins.js';
import { BuildWatcherError, kindOfHttpStatus, kindOfTransportError } from '../errors.js';
import { withRetries, type RetryPolicy } from '../retry.js';

/** `id` says what the event is about (functions/events/event-id.ts), so every attempt and every resend of the same fact carries it. */
export interface OutgoingEvent { readonly id: string; readonly type: string; readonly source: string; readonly subject?: string; readonly data: unknown }

const SINK_RETRY: RetryPolicy = { attempts: 4, baseDelayMs: 200, maxDelayMs: 2_000 };
const TIMEOUT_MS = 10_000;

function postOnce(url: URL, event: OutgoingEvent, signal?: AbortSignal): Promise<void> {
  const body = Buffer.from(JSON.stringify(event.data));
  const headers = {
    'content-type': 'application/json', 'content-length': String(body.length), 'ce-specversion': '1.0', 'ce-id': event.id, 'ce-type': event.type,
    'ce-source': event.source, ...(event.subject !== undefined ? { 'ce-subject': event.subject } : {}),
  };
  const timeout = AbortSignal.timeout(TIMEOUT_MS);
  const transport = url.protocol === 'https:' ? https() : http;
  return new Promise((resolve, reject) => {
    const req = transport.request(url, { method: 'POST', headers, signal: signal === undefined ? timeout : AbortSignal.any([signal, timeout]) }, (res) => {
      res.resume();
      const status = res.statusCode ?? 0;
      if (status >= 200 && status < 300) resolve();
      else reject(new BuildWatcherError(kindOfHttpStatus(status), `the event sink answered ${status}`));
    });
    req.on('error', (error: NodeJS.ErrnoException) => reject(new BuildWatcherError(kindOfTransportError(error.code), `the event sink is unreachable (${error.code ?? 'error'})`)));
    req.end(body);
  });
}

/** The event's own id on every attempt, so that a sink receiving a retry can tell it is the same event. */
export async function sendToSink(sink: string, event: OutgoingEvent, signal?: AbortSignal): Promise<void> {
  await withRetries(SINK_RETRY, () => postOnce(new URL(sink), event, signal), signal === undefined ? {} : { signal });
}
