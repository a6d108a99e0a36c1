/**
 * What the Thoth stand-in can be told to do to its next requests instead of answering at once:
 * fail as the app or the router in front of it would, stall, drop the connection once it has
 * read the request, or work as usual and hold the answer back until released. Each one is a
 * way a real submission ends; tests use them to pin down what a client does with each.
 */

export type StubEndpoint = 'discovery' | 'build-analysis' | 'analyze' | 'analysis-status' | 'other';

/** Which requests a fault applies to; `submission` = the two submission endpoints. */
export type FaultTarget = 'submission' | 'any' | StubEndpoint;

export interface InjectedFailure {
  /**
   * 502, 503 and 504 are answered as the OpenShift router in front answers them (HTML, none of
   * Thoth's headers); any other status as Thoth's own 500 JSON.
   */
  readonly status: number;
  /** Which requests it applies to; default the two submission endpoints. */
  readonly on?: FaultTarget;
  readonly retryAfterSeconds?: number;
}

/** An answer as the stub computed it, and the query its request was sent with (credentials included). */
export interface StubAnswer { readonly status: number; readonly body: unknown }
export type Rewrite = (answer: StubAnswer, query: Readonly<Record<string, string>>) => StubAnswer;

export type Fault =
  | { readonly kind: 'fail'; readonly failure: InjectedFailure }
  /** Never answered, never processed (until close): for timeouts. */
  | { readonly kind: 'stall' }
  /** The body is read, then the connection is destroyed: the request is not processed. */
  | { readonly kind: 'reset' }
  /** Processed as usual (a submission is accepted and recorded), the answer sent only on release. */
  | { readonly kind: 'hold' }
  /** Processed as usual, then answered with what `rewrite` makes of the answer: a hostile or broken Thoth. */
  | { readonly kind: 'rewrite'; readonly rewrite: Rewrite };

interface Pending {
  remaining: number;
  readonly on: FaultTarget;
  readonly fault: Fault;
}

/** Faults waiting for their requests, first added first used. */
export class Faults {
  readonly #pending: Pending[] = [];

  add(count: number, on: FaultTarget, fault: Fault): void {
    this.#pending.push({ remaining: count, on, fault });
  }

  /** The fault the next request to `endpoint` gets, if any; it is used up. */
  take(endpoint: StubEndpoint): Fault | undefined {
    const matches = (on: FaultTarget) =>
      on === 'any' || on === endpoint || (on === 'submission' && (endpoint === 'build-analysis' || endpoint === 'analyze'));
    const pending = this.#pending.find((entry) => entry.remaining > 0 && matches(entry.on));
    if (pending === undefined) return undefined;
    pending.remaining -= 1;
    return pending.fault;
  }

  clear(): void {
    this.#pending.length = 0;
  }
}

/** HAProxy's pages, as the OpenShift router serves them: a gateway's answer, not Thoth's. */
const ROUTER_PAGES: Readonly<Record<number, string>> = {
  502: '<html><body><h1>502 Bad Gateway</h1>The server returned an invalid or incomplete response.</body></html>',
  503: '<html><body><h1>503 Service Unavailable</h1>No server is available to handle this request.</body></html>',
  504: "<html><body><h1>504 Gateway Time-out</h1>The server didn't respond in time.</body></html>",
};

/** The router's page for `status`, or undefined when that status comes from Thoth itself. */
export function routerPage(status: number): string | undefined {
  return ROUTER_PAGES[status];
}
