/** The Thoth User API client: discovery once, then submissions. How requests travel is transport.ts's business. */
import { unlessAborted } from '../concurrency.js';
import { BuildWatcherError, invalid, refused, transient } from '../errors.js';
import { onFirstUse } from '../single-flight.js';
import { thothBaseUrl } from './base-url.js';
import { encodeBuildAnalysisBody } from './build-log-body.js';
import { refusalReason, refusedImage } from './failure.js';
import { buildAnalysisBody, buildAnalysisQuery, imageAnalysisQuery, secretsOf, type BuildAnalysisRequest, type ImageAnalysisRequest } from './requests.js';
import { parseBuildAnalysisResponse, parseDiscovery, parseImageAnalysisResponse, type AnalysisTicket, type BuildAnalysisResult, type Parsed } from './responses.js';
import { ThothTransport, type Answer, type ThothEndpoint, type ThothTransportOptions } from './transport.js';

export type { ThothEndpoint, ThothRequestObservation } from './transport.js';

export interface ThothClientOptions extends ThothTransportOptions {
  /** THOTH_USER_API_HOST: `host[:port]` or an http(s) URL. */
  readonly host: string;
}

export interface SubmittedBuildAnalysis extends BuildAnalysisResult {
  /** Bytes cut from the front of the log to fit Thoth's body limit (0 = none). */
  readonly logBytesCut: number;
}

const ROUTE_SUFFIX: Readonly<Record<Exclude<ThothEndpoint, 'discovery'>, RegExp>> = {
  'build-analysis': /\/build-analysis$/,
  analyze: /\/analyze$/,
};

function unwrap<T>(parsed: Parsed<T>, endpoint: ThothEndpoint): T {
  if (parsed.ok) return parsed.value;
  // Thoth accepted the request, so a resubmission lands in its cache: safe to redeliver.
  throw transient(`Thoth answered ${endpoint} with an unexpected body: ${parsed.problem}`);
}

/** The real `Submitter` of pipeline/ports.ts; functions/wiring.ts hands it to the pipeline. */
export class ThothClient {
  readonly baseUrl: string;
  readonly #transport: ThothTransport;
  /** The historic client discovered the API before every call; once per client is enough. */
  readonly #routes = onFirstUse(() => this.#discover());

  constructor(options: ThothClientOptions) {
    this.baseUrl = thothBaseUrl(options.host);
    this.#transport = new ThothTransport(this.baseUrl, options);
  }

  /** POST /build-analysis: base image, output image and build log in one request. */
  async submitBuildAnalysis(request: BuildAnalysisRequest, signal?: AbortSignal): Promise<SubmittedBuildAnalysis> {
    if (request.base === undefined && request.output === undefined && request.buildLog === undefined) {
      throw invalid('nothing to submit to Thoth: no base image, output image or build log');
    }
    let encoded: ReturnType<typeof encodeBuildAnalysisBody>;
    try {
      encoded = encodeBuildAnalysisBody(buildAnalysisBody(request));
    } catch (error) {
      if (error instanceof RangeError) throw refused(`cannot submit to Thoth: ${error.message}`);
      throw error;
    }
    await this.#requireRoute('build-analysis', signal);
    const answer = await this.#transport.exchange(
      'build-analysis',
      {
        method: 'POST',
        url: 'build-analysis',
        params: buildAnalysisQuery(request),
        data: Buffer.from(encoded.json),
        headers: { 'Content-Type': 'application/json' },
      },
      signal,
    );
    if (answer.status >= 200 && answer.status < 300) {
      const result = unwrap(parseBuildAnalysisResponse(answer.body, request.buildLog !== undefined), 'build-analysis');
      return { ...result, logBytesCut: encoded.logBytesCut };
    }
    const image = refusedImage(answer.body);
    const about = image !== undefined && image === request.base?.image ? 'base-image' : undefined;
    throw this.#refusal(answer, secretsOf([request.base, request.output]), (refused) => {
      if (refused !== undefined && refused === request.base?.image) return 'the base image';
      if (refused !== undefined && refused === request.output?.image) return 'the output image';
      return 'the build analysis';
    }, about);
  }

  /** POST /analyze: one image, e.g. one already in an image stream. */
  async submitImageAnalysis(request: ImageAnalysisRequest, signal?: AbortSignal): Promise<AnalysisTicket> {
    await this.#requireRoute('analyze', signal);
    const answer = await this.#transport.exchange('analyze', { method: 'POST', url: 'analyze', params: imageAnalysisQuery(request) }, signal);
    if (answer.status >= 200 && answer.status < 300) return unwrap(parseImageAnalysisResponse(answer.body), 'analyze');
    throw this.#refusal(answer, secretsOf([request]), () => 'the image');
  }

  close(): void {
    this.#transport.close();
  }

  #refusal(answer: Answer, secrets: readonly string[], subject: (image: string | undefined) => string, about?: string): BuildWatcherError {
    if (answer.status >= 300 && answer.status < 400) {
      return refused(`Thoth answered ${answer.status} (a redirect) instead of the API; check the configured host and scheme`);
    }
    const message = `Thoth refused ${subject(refusedImage(answer.body))}: ${refusalReason(answer.status, answer.body, secrets)}`;
    return new BuildWatcherError('refused', message, about === undefined ? {} : { about });
  }

  async #requireRoute(endpoint: Exclude<ThothEndpoint, 'discovery'>, signal: AbortSignal | undefined): Promise<void> {
    const routes = await unlessAborted(this.#routes(), signal, () => this.#transport.aborted(endpoint));
    if (!routes.some((route) => ROUTE_SUFFIX[endpoint].test(route.replace(/<[^>]*>/g, 'x')))) {
      throw refused(`Thoth's User API at this host does not offer ${endpoint}`);
    }
  }

  async #discover(): Promise<readonly string[]> {
    // Not tied to one caller's signal: every concurrent caller shares the outcome.
    const answer = await this.#transport.exchange('discovery', { method: 'GET', url: '' }, undefined);
    if (answer.status < 200 || answer.status >= 300) {
      throw refused(`Thoth User API not supported at this host: discovery answered ${answer.status}`);
    }
    const routes = parseDiscovery(answer.body);
    if (!routes.ok) throw refused(`Thoth User API not supported at this host: discovery answer ${routes.problem}`);
    return routes.value;
  }
}
