/**
 * Configuration, validated once at the boundary. Variable names and meanings are those of the
 * original Python build-watcher's templates, so existing Secrets and ConfigMaps keep working;
 * the few additions are prefixed BUILD_WATCHER_ or THOTH_ and listed in the README table.
 * Apart from kube/api.ts (which says why), the one module that reads the environment.
 */
// size: every variable, its validation and the rules between variables in one place, as the README's table lists them
import { bool, cleanEnv, makeValidator, num, str, EnvError, EnvMissingError } from 'envalid';
import { KIND_NAMES, type KindName } from './domain/kinds.js';
import { CDEVENT_KINDS, type CDEventKind } from './events/cdevents.js';
import { checkLocalFile, unreadableBecause } from './local-file.js';
import { serviceAccountFile } from './kube/service-account.js';
import { formatPattern, overlappingPatterns, parseRepositoryPattern, type RepositoryPattern } from './access/namespace-repositories.js';
import { mirrorPattern, PUSH_NAMINGS, type PushNaming } from './registry/naming.js';
import { ENVIRONMENT_TYPES, type EnvironmentType } from './thoth/requests.js';

export interface Config {
  /** Empty: no Thoth; images are resolved, pushed, marked and announced as image.built only. */
  readonly thothHost: string;
  readonly thothVerifyTls: boolean;
  readonly thothTimeoutMs: number;
  readonly environmentType: EnvironmentType;
  /** Free text Thoth stores as where the image is used; empty = the object's namespace. */
  readonly origin: string;

  readonly passToken: boolean;
  readonly tokenFile: string;
  readonly sourceCredentials?: { readonly username: string; readonly password: string };
  readonly destinationCredentials?: { readonly username: string; readonly password: string };

  /** Empty when images are submitted where they were built. */
  readonly pushRegistry: string;
  readonly pushNaming: PushNaming;
  readonly sourceRegistryVerifyTls: boolean;
  readonly destinationRegistryVerifyTls: boolean;
  /** Extra CA certificates (PEM file) trusted for Thoth and registries, on top of the system's. */
  readonly caBundleFile: string;
  /** Registries (host[:port]) reached over plain HTTP; loopback always may be. */
  readonly plainHttpRegistries: readonly string[];
  /** Namespaces whose ImageStreams vouch for cluster-registry images of any object (default openshift). */
  readonly sharedImageNamespaces: readonly string[];
  /** Hosts the function may fetch (copy) from besides the cluster and push registries. */
  readonly pullRegistries: readonly string[];
  /**
   * Each namespace's repositories where THOTH_DST_REGISTRY_* apply: THOTH_DST_REGISTRY_REPOSITORIES, plus the push
   * registry's mirror of each namespace (`namespace` naming).
   */
  readonly namespaceRepositories: readonly RepositoryPattern[];

  readonly sendBaseImage: boolean;
  readonly sendOutputImage: boolean;
  readonly sendBuildLog: boolean;
  readonly debug: boolean;
  readonly force: boolean;

  /** Allow-list of namespaces; empty = every namespace the sources deliver. */
  readonly watchedNamespaces: readonly string[];
  readonly analyzeExisting: boolean;
  /** Kinds acted on, listed by the sweep and watched by the command line (THOTH_ANALYZE_EXISTING adds ImageStream). */
  readonly sourceKinds: readonly KindName[];
  readonly workers: number;
  /** Live deliveries one pod keeps waiting for a worker; past it they are answered 503 at once. */
  readonly queueLimit: number;
  readonly sweepBatch: number;
  readonly sweepAllNamespaces: boolean;
  /**
   * K_SINK (set by a Knative SinkBinding: the Broker's address): where image.built goes when the reply is Thoth's, and where
   * a sweep hands off the objects beyond its own share.
   */
  readonly eventSink: string;
  /** CDEvents sent to K_SINK beside image.built (functions/events/cdevents.ts); empty: none. */
  readonly cdEvents: readonly CDEventKind[];
  /** How long a claim holds without renewal (a dead holder's work is taken over after it). */
  readonly claimLeaseSeconds: number;

  /** Test-only: never in a cluster, where anyone who can reach the function could then forge a Build. */
  readonly trustEventPayload: boolean;

  // Set by Kubernetes or the user's shell, never by the ConfigMap: outside CONFIG_VARIABLES.
  /** HOSTNAME, the pod's name: names this process in claims and Events. */
  readonly hostname: string;
  /** POD_NAMESPACE (the downward API, and what tests set); empty: the service account's file says. */
  readonly podNamespace: string;
  /** KUBERNETES_VERIFY_TLS=0 (the command line's --no-kubernetes-tls-verify) skips the API server's check. */
  readonly kubernetesVerifyTls: boolean;
}

/** Variables whose values must never be printed, even when invalid. */
export const SECRET_VARIABLES: ReadonlySet<string> = new Set(['THOTH_SRC_REGISTRY_PASSWORD', 'THOTH_DST_REGISTRY_PASSWORD']);

export class ConfigError extends Error {
  readonly variables: readonly string[];
  constructor(problems: ReadonlyMap<string, string>) {
    const parts = [...problems].map(([name, why]) => `${name} (${why})`);
    super(`invalid configuration: ${parts.join('; ')}`);
    this.name = 'ConfigError';
    this.variables = [...problems.keys()];
  }
}

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** `a, b c,,d` → `[a, b, c, d]`: commas, spaces or both between names. */
const commaList = (input: string): string[] => input.split(/[\s,]+/).filter((name) => name !== '');

const namespaceList = makeValidator<string[]>((input) => {
  const names = commaList(input);
  const bad = names.find((name) => name.length > 63 || !DNS_LABEL.test(name));
  if (bad !== undefined) throw new EnvError('expected comma-separated namespace names');
  return names;
});

const KINDS_EXPECTED = `expected a comma-separated list of ${KIND_NAMES.join(', ')}`;

const kindList = makeValidator<KindName[]>((input) => {
  const names = commaList(input);
  const known: readonly string[] = KIND_NAMES;
  if (names.length === 0 || names.some((name) => !known.includes(name))) throw new EnvError(KINDS_EXPECTED);
  return [...new Set(names)] as KindName[];
});

const CDEVENTS_EXPECTED = `expected none or a comma-separated list of ${CDEVENT_KINDS.join(', ')}`;

const cdEventList = makeValidator<CDEventKind[]>((input) => {
  const names = commaList(input);
  if (names.length === 1 && names[0] === 'none') return [];
  const known: readonly string[] = CDEVENT_KINDS;
  if (names.some((name) => !known.includes(name))) throw new EnvError(CDEVENTS_EXPECTED);
  return [...new Set(names)] as CDEventKind[];
});

const hostList = makeValidator<string[]>(commaList);

const patternList = makeValidator<RepositoryPattern[]>((input) => commaList(input).map((entry) => {
  const pattern = parseRepositoryPattern(entry);
  if (typeof pattern === 'string') throw new EnvError(pattern);
  return pattern;
}));

const intFrom = (min: number) => (max: number) =>
  makeValidator<number>((input) => {
    const value = Number(input);
    if (!Number.isInteger(value) || value < min || value > max) throw new EnvError(`expected an integer from ${min} to ${max}`);
    return value;
  });
const positiveInt = intFrom(1);

/** What each variable expects, said without echoing the offending value. */
const EXPECTATIONS: Readonly<Record<string, string>> = {
  THOTH_ENVIRONMENT_TYPE: `expected ${ENVIRONMENT_TYPES.join(' or ')}`,
  THOTH_PUSH_NAMING: `expected ${PUSH_NAMINGS.join(' or ')}`,
  THOTH_WATCHED_NAMESPACE: 'expected comma-separated namespace names',
  THOTH_USER_API_HOST: 'expected host[:port] or an http(s) URL',
  BUILD_WATCHER_SOURCE_KINDS: KINDS_EXPECTED,
  BUILD_WATCHER_CDEVENTS: CDEVENTS_EXPECTED,
};

const ONE_OF_BOOL = 'expected 1/0 or true/false';

const specs = {
  THOTH_USER_API_HOST: str({ default: '' }),
  THOTH_NO_TLS_VERIFY: bool({ default: false }),
  THOTH_REQUEST_TIMEOUT_SECONDS: num({ default: 120 }),
  THOTH_ENVIRONMENT_TYPE: str({ choices: ENVIRONMENT_TYPES, default: 'runtime' }),
  THOTH_ORIGIN: str({ default: '' }),
  THOTH_PASS_TOKEN: bool({ default: false }),
  BUILD_WATCHER_TOKEN_FILE: str({ default: serviceAccountFile('token') }),
  THOTH_SRC_REGISTRY_USER: str({ default: '' }),
  THOTH_SRC_REGISTRY_PASSWORD: str({ default: '' }),
  THOTH_DST_REGISTRY_USER: str({ default: '' }),
  THOTH_DST_REGISTRY_PASSWORD: str({ default: '' }),
  THOTH_PUSH_REGISTRY: str({ default: '' }),
  THOTH_PUSH_NAMING: str({ choices: PUSH_NAMINGS, default: 'namespace' }),
  THOTH_NO_SOURCE_REGISTRY_TLS_VERIFY: bool({ default: false }),
  THOTH_NO_DESTINATION_REGISTRY_TLS_VERIFY: bool({ default: false }),
  THOTH_CA_BUNDLE: str({ default: '' }),
  THOTH_PLAIN_HTTP_REGISTRIES: hostList({ default: [] }),
  BUILD_WATCHER_SHARED_IMAGE_NAMESPACES: namespaceList({ default: ['openshift'] }),
  BUILD_WATCHER_PULL_REGISTRIES: hostList({ default: [] }),
  THOTH_DST_REGISTRY_REPOSITORIES: patternList({ default: [] }),
  THOTH_BUILD_ANALYSIS_NO_BASE_IMAGE: bool({ default: false }),
  THOTH_BUILD_ANALYSIS_NO_OUTPUT_IMAGE: bool({ default: false }),
  THOTH_BUILD_ANALYSIS_NO_BUILD_LOG: bool({ default: false }),
  THOTH_BUILD_ANALYSIS_DEBUG: bool({ default: false }),
  THOTH_BUILD_ANALYSIS_FORCE: bool({ default: false }),
  THOTH_WATCHED_NAMESPACE: namespaceList({ default: [] }),
  THOTH_ANALYZE_EXISTING: bool({ default: false }),
  // Which kinds the function acts on, the sweep lists and `build-watcher watch` watches; each
  // kind beyond Build also needs its ApiServerSource and RBAC from knative/optional/.
  BUILD_WATCHER_SOURCE_KINDS: kindList({ default: ['Build'] }),
  THOTH_BUILD_WATCHER_WORKERS: positiveInt(64)({ default: 1 }),
  BUILD_WATCHER_QUEUE_LIMIT: intFrom(0)(10_000)({ default: 256 }),
  BUILD_WATCHER_SWEEP_BATCH: positiveInt(10_000)({ default: 200 }),
  BUILD_WATCHER_CLAIM_LEASE_SECONDS: positiveInt(3600)({ default: 60 }),
  BUILD_WATCHER_SWEEP_ALL_NAMESPACES: bool({ default: false }),
  K_SINK: str({ default: '' }),
  BUILD_WATCHER_CDEVENTS: cdEventList({ default: [...CDEVENT_KINDS] }),
  BUILD_WATCHER_TRUST_EVENT_PAYLOAD: bool({ default: false }),
};

/** Every variable the configuration reads; the README table is checked against this list. */
export const CONFIG_VARIABLES: readonly string[] = Object.keys(specs);

function explain(name: string, error: Error): string {
  if (error instanceof EnvMissingError) return 'required';
  const known = EXPECTATIONS[name];
  if (known !== undefined) return known;
  if (error.message.startsWith('Invalid bool')) return ONE_OF_BOOL;
  // envalid's messages quote the offending input; never let a value through.
  return SECRET_VARIABLES.has(name) ? 'invalid' : error.message.replace(/"[^"]*"/g, '(value hidden)');
}

function isLikelyHost(value: string): boolean {
  if (/^https?:\/\//i.test(value)) {
    try {
      new URL(value);
      return true;
    } catch {
      return false;
    }
  }
  return /^[A-Za-z0-9.-]+(:\d{1,5})?\/?$/.test(value);
}

/** Validates `environment`; throws one ConfigError naming every bad variable. */
export function loadConfig(environment: NodeJS.ProcessEnv = process.env): Config {
  const problems = new Map<string, string>();
  const env = cleanEnv(environment, specs, {
    reporter: ({ errors }) => {
      for (const [name, error] of Object.entries(errors)) {
        if (error instanceof Error) problems.set(name, explain(name, error));
      }
      if (problems.size > 0) throw new ConfigError(problems);
    },
  });

  if (env.THOTH_USER_API_HOST !== '' && !isLikelyHost(env.THOTH_USER_API_HOST)) {
    problems.set('THOTH_USER_API_HOST', EXPECTATIONS['THOTH_USER_API_HOST'] ?? 'invalid');
  }
  if (!(env.THOTH_REQUEST_TIMEOUT_SECONDS > 0 && env.THOTH_REQUEST_TIMEOUT_SECONDS <= 3600)) {
    problems.set('THOTH_REQUEST_TIMEOUT_SECONDS', 'expected seconds from 1 to 3600');
  }
  if (env.THOTH_BUILD_ANALYSIS_NO_BASE_IMAGE && env.THOTH_BUILD_ANALYSIS_NO_OUTPUT_IMAGE && env.THOTH_BUILD_ANALYSIS_NO_BUILD_LOG) {
    const why = 'base image, output image and build log are all disabled: nothing to submit';
    problems.set('THOTH_BUILD_ANALYSIS_NO_BASE_IMAGE', why);
    problems.set('THOTH_BUILD_ANALYSIS_NO_OUTPUT_IMAGE', why);
    problems.set('THOTH_BUILD_ANALYSIS_NO_BUILD_LOG', why);
  }
  const hasSourceCredentials = env.THOTH_SRC_REGISTRY_USER !== '' || env.THOTH_SRC_REGISTRY_PASSWORD !== '';
  if (hasSourceCredentials && env.THOTH_PUSH_REGISTRY === '') {
    problems.set('THOTH_SRC_REGISTRY_USER', 'source registry credentials are only used with THOTH_PUSH_REGISTRY');
  }
  if (env.THOTH_PASS_TOKEN && env.THOTH_SRC_REGISTRY_PASSWORD !== '') {
    problems.set('THOTH_PASS_TOKEN', 'cannot be combined with THOTH_SRC_REGISTRY_PASSWORD: choose one source credential');
  }
  for (const side of ['SRC', 'DST'] as const) {
    const user = env[`THOTH_${side}_REGISTRY_USER`];
    const password = env[`THOTH_${side}_REGISTRY_PASSWORD`];
    if ((user === '') !== (password === '')) {
      problems.set(`THOTH_${side}_REGISTRY_${user === '' ? 'USER' : 'PASSWORD'}`, 'user and password must be set together');
    }
  }
  const hasDestinationCredentials = env.THOTH_DST_REGISTRY_USER !== '' || env.THOTH_DST_REGISTRY_PASSWORD !== '';
  if (hasDestinationCredentials && env.THOTH_PUSH_REGISTRY === '' && env.THOTH_DST_REGISTRY_REPOSITORIES.length === 0) {
    problems.set(
      'THOTH_DST_REGISTRY_REPOSITORIES',
      'required with THOTH_DST_REGISTRY_USER/PASSWORD and no THOTH_PUSH_REGISTRY: name each namespace\'s repositories those credentials may read, e.g. quay.example.com/{namespace}, since a Build\'s author chooses its output image',
    );
  }
  // Retired, not ignored: a host alone let any Build's author have Thoth pull any repository on it with these credentials.
  if ((environment['THOTH_DST_REGISTRY_HOSTS'] ?? '').trim() !== '') {
    problems.set('THOTH_DST_REGISTRY_HOSTS', 'replaced by THOTH_DST_REGISTRY_REPOSITORIES: name each namespace\'s repositories, e.g. quay.example.com/{namespace}');
  }
  if (env.THOTH_PUSH_REGISTRY !== '' && !/^[A-Za-z0-9.-]+(:\d{1,5})?(\/[a-z0-9._/-]+)?$/.test(env.THOTH_PUSH_REGISTRY)) {
    problems.set('THOTH_PUSH_REGISTRY', 'expected host[:port][/path]');
  }
  const mirror = env.THOTH_PUSH_REGISTRY === '' ? undefined : mirrorPattern(env.THOTH_PUSH_REGISTRY.replace(/\/+$/, ''), env.THOTH_PUSH_NAMING);
  if (typeof mirror === 'string' && !problems.has('THOTH_PUSH_REGISTRY')) problems.set('THOTH_PUSH_REGISTRY', mirror);
  const namespaceRepositories = [...env.THOTH_DST_REGISTRY_REPOSITORIES, ...(mirror === undefined || typeof mirror === 'string' ? [] : [mirror])];
  const overlap = overlappingPatterns(namespaceRepositories);
  if (overlap !== undefined) {
    problems.set('THOTH_DST_REGISTRY_REPOSITORIES', `${overlap.map(formatPattern).join(' and ')} let two namespaces own one repository (with the push registry's mirror, when one is named)`);
  }
  if (env.K_SINK !== '' && !/^https?:\/\/[^\s/]+/i.test(env.K_SINK)) problems.set('K_SINK', 'expected an http(s) URL');
  if (env.THOTH_CA_BUNDLE !== '') {
    try {
      checkLocalFile(env.THOTH_CA_BUNDLE);
    } catch (error) {
      problems.set('THOTH_CA_BUNDLE', `expected a readable PEM file (${unreadableBecause(error)})`);
    }
  }
  if (problems.size > 0) throw new ConfigError(problems);

  return {
    thothHost: env.THOTH_USER_API_HOST,
    thothVerifyTls: !env.THOTH_NO_TLS_VERIFY,
    thothTimeoutMs: env.THOTH_REQUEST_TIMEOUT_SECONDS * 1000,
    environmentType: env.THOTH_ENVIRONMENT_TYPE,
    origin: env.THOTH_ORIGIN,
    passToken: env.THOTH_PASS_TOKEN,
    tokenFile: env.BUILD_WATCHER_TOKEN_FILE,
    pushRegistry: env.THOTH_PUSH_REGISTRY.replace(/\/+$/, ''),
    pushNaming: env.THOTH_PUSH_NAMING,
    sourceRegistryVerifyTls: !env.THOTH_NO_SOURCE_REGISTRY_TLS_VERIFY,
    destinationRegistryVerifyTls: !env.THOTH_NO_DESTINATION_REGISTRY_TLS_VERIFY,
    caBundleFile: env.THOTH_CA_BUNDLE,
    plainHttpRegistries: env.THOTH_PLAIN_HTTP_REGISTRIES,
    sharedImageNamespaces: env.BUILD_WATCHER_SHARED_IMAGE_NAMESPACES,
    pullRegistries: env.BUILD_WATCHER_PULL_REGISTRIES,
    namespaceRepositories,
    sendBaseImage: !env.THOTH_BUILD_ANALYSIS_NO_BASE_IMAGE,
    sendOutputImage: !env.THOTH_BUILD_ANALYSIS_NO_OUTPUT_IMAGE,
    sendBuildLog: !env.THOTH_BUILD_ANALYSIS_NO_BUILD_LOG,
    debug: env.THOTH_BUILD_ANALYSIS_DEBUG,
    force: env.THOTH_BUILD_ANALYSIS_FORCE,
    watchedNamespaces: env.THOTH_WATCHED_NAMESPACE,
    analyzeExisting: env.THOTH_ANALYZE_EXISTING,
    sourceKinds: env.BUILD_WATCHER_SOURCE_KINDS,
    workers: env.THOTH_BUILD_WATCHER_WORKERS,
    queueLimit: env.BUILD_WATCHER_QUEUE_LIMIT,
    sweepBatch: env.BUILD_WATCHER_SWEEP_BATCH,
    claimLeaseSeconds: env.BUILD_WATCHER_CLAIM_LEASE_SECONDS,
    sweepAllNamespaces: env.BUILD_WATCHER_SWEEP_ALL_NAMESPACES,
    eventSink: env.K_SINK,
    cdEvents: env.BUILD_WATCHER_CDEVENTS,
    trustEventPayload: env.BUILD_WATCHER_TRUST_EVENT_PAYLOAD,
    hostname: environment['HOSTNAME'] ?? 'build-watcher',
    podNamespace: environment['POD_NAMESPACE']?.trim() ?? '',
    kubernetesVerifyTls: !['0', 'false', 'no', 'off'].includes(environment['KUBERNETES_VERIFY_TLS']?.trim().toLowerCase() ?? ''),
    ...(env.THOTH_SRC_REGISTRY_USER !== '' ? { sourceCredentials: { username: env.THOTH_SRC_REGISTRY_USER, password: env.THOTH_SRC_REGISTRY_PASSWORD } } : {}),
    ...(env.THOTH_DST_REGISTRY_USER !== '' ? { destinationCredentials: { username: env.THOTH_DST_REGISTRY_USER, password: env.THOTH_DST_REGISTRY_PASSWORD } } : {}),
  };
}
